package dev.zimage4j.check;

import dev.zimage4j.kernels.Backend;

import java.util.List;

/**
 * One stage of {@code zimage check-reference}: runs every case of its kind in a fixtures folder
 * through the project and measures the error against the stored reference. Implementations are
 * found with {@link java.util.ServiceLoader} ({@code META-INF/services/dev.zimage4j.check.ReferenceStage}).
 */
public interface ReferenceStage {

    /** Stage name used by {@code --only}: tokenizer, text, dit, vae, scheduler, rng, pipeline. */
    String name();

    /** Order in which stages run (cheap, foundational stages first). */
    int order();

    /** Runs all of this stage's cases found in {@code fixtures}; an absent section yields no results. */
    List<CaseResult> run(Fixtures fixtures, Backend backend) throws Exception;
}
