package dev.zimage4j.pipeline;

import dev.zimage4j.check.CaseResult;
import dev.zimage4j.check.PipelineStage;
import dev.zimage4j.check.StageAssertions;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code pipe_turbo} (latents after every step and the image), {@code pipe_cfg} and {@code pipe_seeded} within 1e-3. */
class PipelineFixtureTest {
    @Test
    void wholeGenerationsMatchDiffusers() throws Exception {
        List<CaseResult> r = StageAssertions.assertStagePasses(new PipelineStage(), 4);
        assertTrue(r.stream().anyMatch(c -> c.name().equals("pipe.turbo.step7.latents")), "every turbo step is compared");
        assertTrue(r.stream().anyMatch(c -> c.name().equals("pipe.cfg.image")));
        assertTrue(r.stream().anyMatch(c -> c.name().equals("pipe.seeded.image")));
    }
}
