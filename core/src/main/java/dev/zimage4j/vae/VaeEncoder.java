package dev.zimage4j.vae;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Conv2dSpec;
import dev.zimage4j.kernels.Tensor;

/**
 * The VAE encoder (spec §4.5, for img2img): image {@code [3, H, W]} in [−1, 1] → posterior mean and
 * log-variance {@code [16, H/8, W/8]} each. Top to bottom:
 *
 * <pre>
 *   x = conv_in(img)                                 3 → C_0
 *   for each level, finest first:
 *       x = resnet(x) × layers_per_block
 *       x = conv_stride2(pad_right_bottom(x))       except after the last level
 *   x = mid(x)                                       resnet, attention, resnet
 *   m ‖ logvar = conv_out(SiLU(GroupNorm(x)))         C_mid → 2·16; logvar clamped to [−30, 20]
 * </pre>
 */
public final class VaeEncoder implements AutoCloseable {
    /** diffusers' {@code DiagonalGaussianDistribution} clamps the log-variance to this range. */
    public static final float LOGVAR_MIN = -30f, LOGVAR_MAX = 20f;

    private final Backend backend;
    private final VaeConfig config;
    private final VaeWeights.Encoder weights;
    private final CachedWorkspace cached = new CachedWorkspace();

    /** The posterior of one image: mean and (clamped) log-variance, {@code [latent, h, w]} each. */
    public record Posterior(float[] mean, float[] logvar, int latentH, int latentW) {
        /**
         * {@code mean + exp(logvar/2)·ε} (diffusers' {@code latent_dist.sample}), then into diffusers latent
         * space: {@code (z − shift_factor)·scaling_factor}.
         */
        public float[] sample(float[] noise, VaeConfig config) {
            if (noise.length != mean.length) throw new IllegalArgumentException("noise has " + noise.length + " values, need " + mean.length);
            float[] z = new float[mean.length];
            for (int i = 0; i < z.length; i++) {
                float std = (float) Math.exp(0.5f * logvar[i]);
                z[i] = (mean[i] + std * noise[i] - config.shiftFactor()) * config.scalingFactor();
            }
            return z;
        }
    }

    public VaeEncoder(Backend backend, VaeConfig config, VaeWeights.Encoder weights) {
        this.backend = backend;
        this.config = config;
        this.weights = weights;
    }

    /** A workspace for images of {@code height × width} pixels (multiples of the down factor). */
    public VaeWorkspace allocate(int height, int width) {
        int f = config.downFactor(), levels = config.levels();
        if (height % f != 0 || width % f != 0)
            throw new IllegalArgumentException("image " + width + "×" + height + " must be a multiple of " + f + " on each side");
        long need = (long) config.channels(0) * height * width;
        int prev = config.channels(0);
        for (int i = 0; i < levels; i++) {
            int ch = config.channels(i);
            long side = (long) (height >> i) * (width >> i);
            need = Math.max(need, Math.max(prev, ch) * side);
            prev = ch;
        }
        int h = height / f, w = width / f;
        return new VaeWorkspace(backend, height, width, new int[]{config.inChannels(), height, width},
                new int[]{2 * config.latentChannels(), h, w}, need, h * w, config.midChannels(), weights.mid().attention() != null);
    }

    /** Encodes a host image {@code [3, H, W]} in [−1, 1] through a workspace cached for the last size used. */
    public synchronized Posterior encode(float[] image, int height, int width) {
        return encode(cached.forImage(height, width, () -> allocate(height, width)), image);
    }

    /** Uploads {@code image} into {@code ws}, encodes, and splits the output into mean and clamped log-variance. */
    public Posterior encode(VaeWorkspace ws, float[] image) {
        if (image.length != ws.input.numel())
            throw new IllegalArgumentException("image has " + image.length + " values, the workspace expects " + ws.input.numel()
                    + " " + Tensor.shapeString(ws.input.shape()));
        backend.upload(ws.input, image);
        backend.replay(ws, () -> run(ws));
        float[] both = new float[Math.toIntExact(ws.output.numel())];
        backend.download(ws.output, both);
        int n = both.length / 2;
        float[] mean = java.util.Arrays.copyOfRange(both, 0, n);
        float[] logvar = new float[n];
        for (int i = 0; i < n; i++) logvar[i] = Math.clamp(both[n + i], LOGVAR_MIN, LOGVAR_MAX);
        return new Posterior(mean, logvar, ws.output.shape()[1], ws.output.shape()[2]);
    }

    private void run(VaeWorkspace ws) {
        Backend b = backend;
        VaeWeights.Encoder w = weights;
        int groups = config.normGroups(), levels = config.levels();
        int h = ws.height, wd = ws.width, c0 = config.channels(0);
        ws.reset();

        b.conv2d(ws.current(c0, h, wd), ws.input, w.convIn().w(), w.convIn().b(), Conv2dSpec.same(config.inChannels(), h, wd, c0, 3));
        for (int i = 0; i < levels; i++) {
            VaeWeights.DownBlock down = w.down().get(i);
            for (VaeWeights.Resnet r : down.resnets()) VaeBlocks.resnet(b, r, ws, groups, h, wd);
            if (down.downsample() != null) {
                int ch = config.channels(i);
                Conv2dSpec spec = Conv2dSpec.downsample(ch, h, wd);
                b.conv2d(ws.spare(0, ch, spec.outHeight(), spec.outWidth()), ws.current(ch, h, wd), down.downsample().w(),
                        down.downsample().b(), spec);
                h = spec.outHeight();
                wd = spec.outWidth();
                ws.advance(0);
            }
        }

        int cm = config.midChannels();
        VaeBlocks.mid(b, w.mid(), ws, groups, cm, h, wd);
        Tensor normed = ws.spare(0, cm, h, wd);
        b.groupNorm(normed, ws.current(cm, h, wd), groups, w.normOut().gamma(), w.normOut().beta(), VaeConfig.NORM_EPS, true);
        b.conv2d(ws.output, normed, w.convOut().w(), w.convOut().b(), Conv2dSpec.same(cm, h, wd, 2 * config.latentChannels(), 3));
    }

    /** Bytes of the workspace cached by the convenience method (0 when none); answers at once, even during a pass. */
    public long workspaceBytes() {
        return cached.bytes();
    }

    /** Frees the cached workspace (the weights belong to the {@link Vae}). */
    @Override
    public synchronized void close() {
        cached.close();
    }
}
