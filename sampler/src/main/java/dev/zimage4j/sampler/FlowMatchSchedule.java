package dev.zimage4j.sampler;

import java.util.Arrays;

/**
 * The noise schedule of one generation and its Euler update, as diffusers' {@code FlowMatchEulerDiscreteScheduler}
 * computes them for the Z-Image pipelines (spec §5), float32 where the reference is float32.
 *
 * <p>For N steps: unshifted {@code s = torch.linspace(1, 1/N, N)} (float32), shifted in float32 —
 * statically {@code σ = shift·s / (1 + (shift−1)·s)} or dynamically by {@code mu} — optionally stretched to
 * {@code shift_terminal}, then {@code σ_N = 0} is appended. Timesteps are {@code T = 1000·σ} and the model is
 * fed {@code t = (1000 − T)/1000} ({@link #modelTime}). The DiT predicts {@code v ≈ x₀ − ε}; the pipeline
 * negates it and the scheduler steps {@code x ← x + (σ_{i+1} − σ_i)·(−v)} ({@link #step}).
 */
public final class FlowMatchSchedule {
    private final float[] sigmas;    // steps + 1 values, the last 0
    private final float[] timesteps; // steps values
    private final int numTrainTimesteps;

    private FlowMatchSchedule(float[] sigmas, float[] timesteps, int numTrainTimesteps) {
        this.sigmas = sigmas;
        this.timesteps = timesteps;
        this.numTrainTimesteps = numTrainTimesteps;
    }

    /**
     * The schedule for {@code steps} denoising steps.
     *
     * @param imageSeqLen image tokens of the generation ({@code (H/16)·(W/16)}); only used with dynamic shifting
     */
    public static FlowMatchSchedule create(SchedulerConfig config, int steps, int imageSeqLen) {
        if (steps < 1) throw new IllegalArgumentException("steps must be ≥ 1, got " + steps);
        float[] unshifted = linspace(1f, (float) (1.0 / steps), steps);
        float[] s = new float[steps + 1];
        float[] t = new float[steps];
        float shift = (float) config.shift();
        float m = (float) (config.timeShiftType() == SchedulerConfig.TimeShift.EXPONENTIAL
                ? Math.exp(mu(config, imageSeqLen)) : mu(config, imageSeqLen));
        for (int i = 0; i < steps; i++) {
            float u = unshifted[i];
            // float32 tensor arithmetic with Python-float scalars: every operation rounds to float32
            s[i] = config.useDynamicShifting() ? m / (m + (1f / u - 1f)) : shift * u / (1f + (shift - 1f) * u);
        }
        if (!Double.isNaN(config.shiftTerminal())) {
            float scale = (1f - s[steps - 1]) / (float) (1 - config.shiftTerminal());
            for (int i = 0; i < steps; i++) s[i] = 1f - (1f - s[i]) / scale;
        }
        for (int i = 0; i < steps; i++) t[i] = s[i] * config.numTrainTimesteps();
        s[steps] = 0f;
        return new FlowMatchSchedule(s, t, config.numTrainTimesteps());
    }

    /**
     * The resolution-dependent shift of the Z-Image pipelines ({@code calculate_shift}): linear in the image
     * token count from {@code base_shift} at {@code base_image_seq_len} to {@code max_shift} at {@code max_image_seq_len}.
     */
    public static double mu(SchedulerConfig c, int imageSeqLen) {
        double m = (c.maxShift() - c.baseShift()) / (c.maxImageSeqLen() - c.baseImageSeqLen());
        double b = c.baseShift() - m * c.baseImageSeqLen();
        return imageSeqLen * m + b;
    }

    /**
     * {@code torch.linspace(start, end, num)} in float32 as the CPU kernel computes it: the first half counts up
     * from {@code start}, the second half counts down from {@code end}, by {@code step = (end − start)/(num − 1)}.
     */
    private static float[] linspace(float start, float end, int num) {
        float[] y = new float[num];
        if (num == 1) {
            y[0] = start;
            return y;
        }
        float step = (end - start) / (num - 1);
        int half = num / 2;
        for (int i = 0; i < num; i++) y[i] = i < half ? start + step * i : end - step * (num - 1 - i);
        return y;
    }

    /**
     * The step at which img2img starts for {@code strength} (diffusers' {@code get_timesteps}):
     * {@code int(max(N − min(N·strength, N), 0))}; strength 1 starts at 0 (pure noise).
     */
    public static int img2imgStart(int steps, double strength) {
        if (!(strength >= 0 && strength <= 1)) throw new IllegalArgumentException("strength must be in [0, 1], got " + strength);
        double init = Math.min(steps * strength, steps);
        return (int) Math.max(steps - init, 0);
    }

    /** The schedule from step {@code start} on (img2img): {@code steps() − start} steps, same sigmas. */
    public FlowMatchSchedule from(int start) {
        if (start < 0 || start >= steps())
            throw new IllegalArgumentException("start step " + start + " leaves no step of " + steps());
        return new FlowMatchSchedule(Arrays.copyOfRange(sigmas, start, sigmas.length),
                Arrays.copyOfRange(timesteps, start, timesteps.length), numTrainTimesteps);
    }

    /** Denoising steps. */
    public int steps() {
        return timesteps.length;
    }

    /** σ_i for i in 0..steps (σ_steps = 0). */
    public float sigma(int i) {
        return sigmas[i];
    }

    /** The scheduler's timestep T_i = num_train_timesteps·σ_i, i in 0..steps−1. */
    public float timestep(int i) {
        return timesteps[i];
    }

    /** What the DiT is fed at step i: {@code (num_train_timesteps − T_i) / num_train_timesteps} in float32 (≈ 1 − σ_i). */
    public float modelTime(int i) {
        float n = numTrainTimesteps;
        return (n - timesteps[i]) / n;
    }

    /** A copy of all steps+1 sigmas. */
    public float[] sigmas() {
        return sigmas.clone();
    }

    /** A copy of the steps timesteps. */
    public float[] timesteps() {
        return timesteps.clone();
    }

    /**
     * The Euler update of step {@code i} in place: {@code x ← x + (σ_{i+1} − σ_i)·(−v)}, where {@code v} is the
     * DiT output (or the guided combination) for the latents {@code x}.
     */
    public void step(int i, float[] latents, float[] modelOutput) {
        if (latents.length != modelOutput.length)
            throw new IllegalArgumentException("latents has " + latents.length + " values but the model output " + modelOutput.length);
        float dt = sigmas[i + 1] - sigmas[i];
        for (int k = 0; k < latents.length; k++) latents[k] = latents[k] + dt * -modelOutput[k];
    }

    /**
     * The img2img starting point ({@code scale_noise} at σ_0 of this schedule), in place on the clean latents:
     * {@code x ← σ_0·ε + (1 − σ_0)·x}.
     */
    public void noise(float[] cleanLatents, float[] noise) {
        if (cleanLatents.length != noise.length)
            throw new IllegalArgumentException("latents has " + cleanLatents.length + " values but the noise " + noise.length);
        float s = sigmas[0];
        float keep = 1f - s;
        for (int k = 0; k < noise.length; k++) cleanLatents[k] = s * noise[k] + keep * cleanLatents[k];
    }

    @Override
    public String toString() {
        return "FlowMatchSchedule" + Arrays.toString(sigmas);
    }
}
