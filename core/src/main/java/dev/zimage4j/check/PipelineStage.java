package dev.zimage4j.check;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.pipeline.ZImagePipeline;
import dev.zimage4j.sampler.FlowMatchSchedule;
import dev.zimage4j.sampler.Guidance;
import dev.zimage4j.sampler.SchedulerConfig;
import dev.zimage4j.sampler.TorchGenerator;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code check-reference --only pipeline}: whole generations through {@link ZImagePipeline}'s stages (the same
 * ones {@code generate} chains), tolerance 1e-3 (README, full pipelines):
 * <ul>
 *   <li>{@code pipe_turbo}: given {@code latents0}, the latents after every step and the final image [0, 1];</li>
 *   <li>{@code pipe_cfg}: the same with classifier-free guidance and a negative prompt;</li>
 *   <li>{@code pipe_seeded}: noise from the torch-compatible generator at {@code seed}.</li>
 * </ul>
 * On a bf16 backend the README's GPU criterion (≤ 2e-2, cosine ≥ 0.999, stated for one forward) is used for the
 * pipeline too: each Euler step adds (σᵢ₊₁ − σᵢ)·v with Σ|σᵢ₊₁ − σᵢ| = 1, so the latents' error is a weighted
 * mean of the per-forward velocity errors rather than their sum, and the decoded image adds one VAE forward's.
 */
public final class PipelineStage implements ReferenceStage {
    static final double TOLERANCE = 1e-3;

    @Override
    public String name() {
        return "pipeline";
    }

    @Override
    public int order() {
        return 60;
    }

    @Override
    public List<CaseResult> run(Fixtures f, Backend backend) throws Exception {
        List<CaseResult> out = new ArrayList<>();
        JsonNode turbo = f.cases().path("pipe_turbo"), cfg = f.cases().path("pipe_cfg"), seeded = f.cases().path("pipe_seeded");
        if (turbo.isMissingNode() && cfg.isMissingNode() && seeded.isMissingNode()) return out;
        SchedulerConfig scheduler = SchedulerStage.readConfig(f.dir());
        Tolerance tol = Tolerance.of(TOLERANCE, backend);
        try (ZImagePipeline pipe = ZImagePipeline.load(f.dir(), backend)) {
            if (!turbo.isMissingNode()) runCase(f, pipe, scheduler, turbo, "pipe.turbo", f.tensor("pipe.turbo.latents0"), true, tol, out);
            if (!cfg.isMissingNode()) runCase(f, pipe, scheduler, cfg, "pipe.cfg", f.tensor("pipe.cfg.latents0"), false, tol, out);
            if (!seeded.isMissingNode()) {
                int lh = pipe.latentSide(seeded.get("h").asInt()), lw = pipe.latentSide(seeded.get("w").asInt());
                float[] noise = new TorchGenerator(seeded.get("seed").asLong()).randn(1, pipe.latentChannels(), lh, lw);
                runCase(f, pipe, scheduler, seeded, "pipe.seeded", noise, false, tol, out);
            }
        }
        return out;
    }

    private void runCase(Fixtures f, ZImagePipeline pipe, SchedulerConfig scheduler, JsonNode c, String prefix, float[] latents,
                         boolean everyStep, Tolerance tol, List<CaseResult> out) {
        int h = c.get("h").asInt(), w = c.get("w").asInt(), steps = c.get("steps").asInt();
        int lh = pipe.latentSide(h), lw = pipe.latentSide(w);
        double g = c.has("g") ? c.get("g").asDouble() : c.path("guidance_scale").asDouble(0);
        Guidance guidance = Guidance.of(g);
        ZImagePipeline.Caption pos = pipe.encodePrompt(c.get("prompt").asText());
        ZImagePipeline.Caption neg = guidance.enabled() ? pipe.encodePrompt(c.path("neg").asText("")) : null;
        FlowMatchSchedule schedule = FlowMatchSchedule.create(scheduler, steps, (lh / 2) * (lw / 2));
        String detail = w + "×" + h + ", " + steps + " steps" + (guidance.enabled() ? ", guidance " + g : "");
        // without per-step checks no listener: a device-resident backend then keeps the latents on the device
        ZImagePipeline.StepListener perStep = (step, x) -> {
            String name = prefix + ".step" + step + ".latents";
            if (f.expected().find(name).isPresent())
                out.add(tol.judge(name(), name, x, f.tensor(name), detail));
        };
        float[] last = pipe.denoise(latents, lh, lw, pos, neg, schedule, guidance, everyStep ? perStep : null, null);
        float[] image = pipe.decode(last, lh, lw);
        out.add(tol.judge(name(), prefix + ".image", image, f.tensor(prefix + ".image"), detail));
    }
}
