package dev.zimage4j.vae;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Conv2dSpec;
import dev.zimage4j.kernels.Tensor;

/**
 * The VAE decoder (spec §4.3): latent {@code [16, h, w]} in VAE space → image {@code [3, 8h, 8w]} in about
 * [−1, 1]. Top to bottom:
 *
 * <pre>
 *   x = conv_in(z)                                   16 → C_mid
 *   x = mid(x)                                       resnet, attention, resnet
 *   for each level, coarsest first:
 *       x = resnet(x) × (layers_per_block + 1)
 *       x = conv(nearest_2x(x))                      except after the last level
 *   y = conv_out(SiLU(GroupNorm(x)))                 C_0 → 3
 * </pre>
 */
public final class VaeDecoder implements AutoCloseable {
    private final Backend backend;
    private final VaeConfig config;
    private final VaeWeights.Decoder weights;
    private final CachedWorkspace cached = new CachedWorkspace();

    public VaeDecoder(Backend backend, VaeConfig config, VaeWeights.Decoder weights) {
        this.backend = backend;
        this.config = config;
        this.weights = weights;
    }

    /**
     * The diffusers latent → VAE input map of the pipeline, in place: {@code z / scaling_factor + shift_factor}
     * (float32, in that order: spec pitfall 12).
     */
    public void toVaeSpace(float[] latents) {
        float s = config.scalingFactor(), shift = config.shiftFactor();
        for (int i = 0; i < latents.length; i++) latents[i] = latents[i] / s + shift;
    }

    /** A workspace for latents of {@code latentH × latentW}; reuse it for every decode at that size, close it when done. */
    public VaeWorkspace allocate(int latentH, int latentW) {
        int f = config.downFactor();
        return new VaeWorkspace(backend, latentH * f, latentW * f, new int[]{config.latentChannels(), latentH, latentW},
                new int[]{config.outChannels(), latentH * f, latentW * f}, bufferElements(latentH, latentW), latentH * latentW,
                config.midChannels(), weights.mid().attention() != null);
    }

    /** Whether a decode at this latent size fits the workspace's single-tensor limit (2³¹ floats per buffer). */
    public boolean fits(int latentH, int latentW) {
        return bufferElements(latentH, latentW) <= VaeWorkspace.MAX_BUFFER_ELEMENTS;
    }

    /** Floats of each of the three activation buffers: the largest {@code C·H·W} anywhere in the decoder. */
    long bufferElements(int latentH, int latentW) {
        int levels = config.levels();
        long need = (long) config.midChannels() * latentH * latentW;
        int prev = config.midChannels();
        for (int i = 0; i < levels; i++) {
            int ch = config.channels(levels - 1 - i);
            long side = (long) (latentH << i) * (latentW << i);
            need = Math.max(need, Math.max(prev, ch) * side);
            if (i < levels - 1) need = Math.max(need, ch * side * 4);
            prev = ch;
        }
        return need;
    }

    /**
     * Decodes host latents already in VAE space ({@link #toVaeSpace}) through a workspace cached for the last
     * size used; returns the raw decoder output {@code [3, H, W]} row-major.
     */
    public synchronized float[] decode(float[] vaeLatents, int latentH, int latentW) {
        int f = config.downFactor();
        VaeWorkspace ws = cached.forImage(latentH * f, latentW * f, () -> allocate(latentH, latentW));
        float[] out = new float[config.outChannels() * latentH * f * latentW * f];
        decode(ws, vaeLatents, out);
        return out;
    }

    /** Uploads {@code vaeLatents} into {@code ws}, decodes, downloads the image into {@code out}. */
    public void decode(VaeWorkspace ws, float[] vaeLatents, float[] out) {
        if (vaeLatents.length != ws.input.numel())
            throw new IllegalArgumentException("latents have " + vaeLatents.length + " values, the workspace expects " + ws.input.numel()
                    + " " + Tensor.shapeString(ws.input.shape()));
        backend.upload(ws.input, vaeLatents);
        backend.replay(ws, () -> run(ws));
        backend.download(ws.output, out);
    }

    private void run(VaeWorkspace ws) {
        Backend b = backend;
        VaeWeights.Decoder w = weights;
        int groups = config.normGroups(), levels = config.levels(), mid = config.midChannels();
        int h = ws.input.shape()[1], wd = ws.input.shape()[2];
        ws.reset();

        b.conv2d(ws.current(mid, h, wd), ws.input, w.convIn().w(), w.convIn().b(), Conv2dSpec.same(config.latentChannels(), h, wd, mid, 3));
        VaeBlocks.mid(b, w.mid(), ws, groups, mid, h, wd);

        for (int i = 0; i < levels; i++) {
            VaeWeights.UpBlock up = w.up().get(i);
            for (VaeWeights.Resnet r : up.resnets()) VaeBlocks.resnet(b, r, ws, groups, h, wd);
            if (up.upsample() != null) {
                int ch = config.channels(levels - 1 - i);
                Tensor doubled = ws.spare(0, ch, 2 * h, 2 * wd);
                b.upsampleNearest2x(doubled, ws.current(ch, h, wd), ch, h, wd);
                h *= 2;
                wd *= 2;
                b.conv2d(ws.spare(1, ch, h, wd), doubled, up.upsample().w(), up.upsample().b(), Conv2dSpec.same(ch, h, wd, ch, 3));
                ws.advance(1);
            }
        }

        int c0 = config.channels(0);
        Tensor normed = ws.spare(0, c0, h, wd);
        b.groupNorm(normed, ws.current(c0, h, wd), groups, w.normOut().gamma(), w.normOut().beta(), VaeConfig.NORM_EPS, true);
        b.conv2d(ws.output, normed, w.convOut().w(), w.convOut().b(), Conv2dSpec.same(c0, h, wd, config.outChannels(), 3));
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
