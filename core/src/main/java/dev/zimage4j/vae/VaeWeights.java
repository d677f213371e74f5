package dev.zimage4j.vae;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.TensorView;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The VAE's parameters (diffusers names, spec §4.4), validated against a {@link VaeConfig} and prepared by a
 * {@link Backend} straight from the memory-mapped checkpoint.
 *
 * @param decoder the decoder (always present)
 * @param encoder the encoder, or null when the checkpoint holds a decoder only (then img2img is unavailable)
 */
public record VaeWeights(Decoder decoder, Encoder encoder) {

    /** A 2-D convolution's kernel {@code [out, in, k, k]} and bias. */
    public record Conv(Weight w, Weight b) {
    }

    /** A Linear layer's matrix {@code [out, in]} and bias. */
    public record Linear(Weight w, Weight b) {
    }

    /** A GroupNorm's per-channel scale and shift. */
    public record Norm(Weight gamma, Weight beta) {
    }

    /** {@code ResnetBlock2D}: {@code shortcut} (a 1×1 conv) is null when {@code in == out}. */
    public record Resnet(int in, int out, Norm norm1, Conv conv1, Norm norm2, Conv conv2, Conv shortcut) {
    }

    /** The mid block's single-head self-attention over all pixels. */
    public record Attention(Norm norm, Linear q, Linear k, Linear v, Linear out) {
    }

    /** {@code resnet → attention (may be null) → resnet} at the deepest level. */
    public record Mid(Resnet first, Attention attention, Resnet second) {
    }

    /** One decoder level ({@code UpDecoderBlock2D}): resnets, then nearest ×2 + conv unless it is the last. */
    public record UpBlock(List<Resnet> resnets, Conv upsample) {
    }

    /** One encoder level ({@code DownEncoderBlock2D}): resnets, then a stride-2 conv unless it is the last. */
    public record DownBlock(List<Resnet> resnets, Conv downsample) {
    }

    /** {@code conv_in → mid → up blocks (coarsest first) → GroupNorm + SiLU → conv_out}. */
    public record Decoder(Conv convIn, Mid mid, List<UpBlock> up, Norm normOut, Conv convOut) {
    }

    /** {@code conv_in → down blocks (finest first) → mid → GroupNorm + SiLU → conv_out (mean ‖ logvar)}. */
    public record Encoder(Conv convIn, List<DownBlock> down, Mid mid, Norm normOut, Conv convOut) {
    }

    /**
     * Validates {@code ckpt} (diffusers or BFL names, see {@link VaeKeyMapping}) against {@code config} and
     * prepares every tensor. Encoder tensors are optional as a whole.
     *
     * @throws VaeCheckpointException listing every missing, unknown, mis-shaped or non-float tensor
     */
    public static VaeWeights load(Checkpoint ckpt, VaeConfig config, Backend backend) {
        Map<String, TensorView> t = VaeKeyMapping.map(ckpt, config.levels());
        Map<String, long[]> decoderShapes = new LinkedHashMap<>(), encoderShapes = new LinkedHashMap<>();
        expectDecoder(config, decoderShapes);
        expectEncoder(config, encoderShapes);
        boolean hasEncoder = t.keySet().stream().anyMatch(k -> k.startsWith("encoder."));

        List<String> problems = new ArrayList<>();
        check(t, decoderShapes, problems);
        if (hasEncoder) check(t, encoderShapes, problems);
        for (var e : t.entrySet())
            if (!decoderShapes.containsKey(e.getKey()) && !encoderShapes.containsKey(e.getKey()))
                problems.add("unknown tensor " + e.getValue().name() + " " + Arrays.toString(e.getValue().shape()));
        if (!problems.isEmpty()) throw new VaeCheckpointException(ckpt.source(), problems);

        Loader w = new Loader(t, backend);
        try {
            return new VaeWeights(w.decoder(config), hasEncoder ? w.encoder(config) : null);
        } catch (RuntimeException e) {
            for (Weight x : w.prepared) backend.release(x);
            throw e;
        }
    }

    /** Every prepared weight, for release and accounting. */
    public List<Weight> all() {
        List<Weight> out = new ArrayList<>();
        Decoder d = decoder;
        add(out, d.convIn);
        add(out, d.mid);
        for (UpBlock u : d.up) {
            for (Resnet r : u.resnets) add(out, r);
            if (u.upsample != null) add(out, u.upsample);
        }
        out.add(d.normOut.gamma);
        out.add(d.normOut.beta);
        add(out, d.convOut);
        if (encoder != null) {
            Encoder e = encoder;
            add(out, e.convIn);
            for (DownBlock b : e.down) {
                for (Resnet r : b.resnets) add(out, r);
                if (b.downsample != null) add(out, b.downsample);
            }
            add(out, e.mid);
            out.add(e.normOut.gamma);
            out.add(e.normOut.beta);
            add(out, e.convOut);
        }
        return out;
    }

    private static void add(List<Weight> out, Conv c) {
        out.add(c.w);
        out.add(c.b);
    }

    private static void add(List<Weight> out, Resnet r) {
        out.addAll(List.of(r.norm1.gamma, r.norm1.beta, r.conv1.w, r.conv1.b, r.norm2.gamma, r.norm2.beta, r.conv2.w, r.conv2.b));
        if (r.shortcut != null) add(out, r.shortcut);
    }

    private static void add(List<Weight> out, Mid m) {
        add(out, m.first);
        if (m.attention != null) {
            Attention a = m.attention;
            out.addAll(List.of(a.norm.gamma, a.norm.beta, a.q.w, a.q.b, a.k.w, a.k.b, a.v.w, a.v.b, a.out.w, a.out.b));
        }
        add(out, m.second);
    }

    // ------------------------------------------------------------------ expected names and shapes

    /**
     * Every tensor a diffusers checkpoint for {@code config} holds, by diffusers name, encoder then decoder,
     * in module order: the table {@link #load} validates against (and random models are written from).
     */
    public static Map<String, long[]> expectedShapes(VaeConfig config) {
        Map<String, long[]> s = new LinkedHashMap<>();
        expectEncoder(config, s);
        expectDecoder(config, s);
        return s;
    }

    private static void expectDecoder(VaeConfig c, Map<String, long[]> s) {
        int levels = c.levels(), mid = c.midChannels();
        conv(s, "decoder.conv_in", mid, c.latentChannels(), 3);
        expectMid(c, s, "decoder.mid_block.");
        int prev = mid;
        for (int i = 0; i < levels; i++) {
            int ch = c.channels(levels - 1 - i);
            for (int j = 0; j <= c.layersPerBlock(); j++) resnet(s, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? prev : ch, ch);
            if (i < levels - 1) conv(s, "decoder.up_blocks." + i + ".upsamplers.0.conv", ch, ch, 3);
            prev = ch;
        }
        norm(s, "decoder.conv_norm_out", c.channels(0));
        conv(s, "decoder.conv_out", c.outChannels(), c.channels(0), 3);
    }

    private static void expectEncoder(VaeConfig c, Map<String, long[]> s) {
        int levels = c.levels();
        conv(s, "encoder.conv_in", c.channels(0), c.inChannels(), 3);
        int prev = c.channels(0);
        for (int i = 0; i < levels; i++) {
            int ch = c.channels(i);
            for (int j = 0; j < c.layersPerBlock(); j++) resnet(s, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? prev : ch, ch);
            if (i < levels - 1) conv(s, "encoder.down_blocks." + i + ".downsamplers.0.conv", ch, ch, 3);
            prev = ch;
        }
        expectMid(c, s, "encoder.mid_block.");
        norm(s, "encoder.conv_norm_out", c.midChannels());
        conv(s, "encoder.conv_out", 2 * c.latentChannels(), c.midChannels(), 3);
    }

    private static void expectMid(VaeConfig c, Map<String, long[]> s, String p) {
        int ch = c.midChannels();
        resnet(s, p + "resnets.0", ch, ch);
        if (c.midAttention()) {
            norm(s, p + "attentions.0.group_norm", ch);
            for (String l : new String[]{"to_q", "to_k", "to_v", "to_out.0"}) {
                s.put(p + "attentions.0." + l + ".weight", new long[]{ch, ch});
                s.put(p + "attentions.0." + l + ".bias", new long[]{ch});
            }
        }
        resnet(s, p + "resnets.1", ch, ch);
    }

    private static void resnet(Map<String, long[]> s, String p, int in, int out) {
        norm(s, p + ".norm1", in);
        conv(s, p + ".conv1", out, in, 3);
        norm(s, p + ".norm2", out);
        conv(s, p + ".conv2", out, out, 3);
        if (in != out) conv(s, p + ".conv_shortcut", out, in, 1);
    }

    private static void conv(Map<String, long[]> s, String p, int out, int in, int k) {
        s.put(p + ".weight", new long[]{out, in, k, k});
        s.put(p + ".bias", new long[]{out});
    }

    private static void norm(Map<String, long[]> s, String p, int ch) {
        s.put(p + ".weight", new long[]{ch});
        s.put(p + ".bias", new long[]{ch});
    }

    private static void check(Map<String, TensorView> t, Map<String, long[]> expected, List<String> problems) {
        for (var e : expected.entrySet()) {
            TensorView v = t.get(e.getKey());
            if (v == null) problems.add("missing " + e.getKey() + " " + Arrays.toString(e.getValue()));
            else if (!Arrays.equals(v.shape(), e.getValue()))
                problems.add("mis-shaped " + v.name() + ": " + Arrays.toString(v.shape()) + ", expected " + Arrays.toString(e.getValue()));
            else if (v.dtype() != DType.F32 && v.dtype() != DType.BF16 && v.dtype() != DType.F16)
                problems.add("unsupported dtype " + v.dtype() + " for " + v.name() + " (need F32, BF16 or F16)");
        }
    }

    // ------------------------------------------------------------------ preparing

    private static final class Loader {
        final Map<String, TensorView> t;
        final Backend backend;
        final List<Weight> prepared = new ArrayList<>();

        Loader(Map<String, TensorView> t, Backend backend) {
            this.t = t;
            this.backend = backend;
        }

        Weight w(String name) {
            Weight x = backend.weight(t.get(name));
            prepared.add(x);
            return x;
        }

        Conv conv(String p) {
            return new Conv(w(p + ".weight"), w(p + ".bias"));
        }

        Linear linear(String p) {
            return new Linear(w(p + ".weight"), w(p + ".bias"));
        }

        Norm norm(String p) {
            return new Norm(w(p + ".weight"), w(p + ".bias"));
        }

        Resnet resnet(String p, int in, int out) {
            return new Resnet(in, out, norm(p + ".norm1"), conv(p + ".conv1"), norm(p + ".norm2"), conv(p + ".conv2"),
                    in != out ? conv(p + ".conv_shortcut") : null);
        }

        Mid mid(VaeConfig c, String p) {
            int ch = c.midChannels();
            Attention a = c.midAttention()
                    ? new Attention(norm(p + "attentions.0.group_norm"), linear(p + "attentions.0.to_q"),
                    linear(p + "attentions.0.to_k"), linear(p + "attentions.0.to_v"), linear(p + "attentions.0.to_out.0"))
                    : null;
            return new Mid(resnet(p + "resnets.0", ch, ch), a, resnet(p + "resnets.1", ch, ch));
        }

        Decoder decoder(VaeConfig c) {
            int levels = c.levels();
            Conv convIn = conv("decoder.conv_in");
            Mid mid = mid(c, "decoder.mid_block.");
            List<UpBlock> up = new ArrayList<>();
            int prev = c.midChannels();
            for (int i = 0; i < levels; i++) {
                int ch = c.channels(levels - 1 - i);
                List<Resnet> rs = new ArrayList<>();
                for (int j = 0; j <= c.layersPerBlock(); j++) rs.add(resnet("decoder.up_blocks." + i + ".resnets." + j, j == 0 ? prev : ch, ch));
                up.add(new UpBlock(List.copyOf(rs), i < levels - 1 ? conv("decoder.up_blocks." + i + ".upsamplers.0.conv") : null));
                prev = ch;
            }
            return new Decoder(convIn, mid, List.copyOf(up), norm("decoder.conv_norm_out"), conv("decoder.conv_out"));
        }

        Encoder encoder(VaeConfig c) {
            int levels = c.levels();
            Conv convIn = conv("encoder.conv_in");
            List<DownBlock> down = new ArrayList<>();
            int prev = c.channels(0);
            for (int i = 0; i < levels; i++) {
                int ch = c.channels(i);
                List<Resnet> rs = new ArrayList<>();
                for (int j = 0; j < c.layersPerBlock(); j++) rs.add(resnet("encoder.down_blocks." + i + ".resnets." + j, j == 0 ? prev : ch, ch));
                down.add(new DownBlock(List.copyOf(rs), i < levels - 1 ? conv("encoder.down_blocks." + i + ".downsamplers.0.conv") : null));
                prev = ch;
            }
            return new Encoder(convIn, List.copyOf(down), mid(c, "encoder.mid_block."), norm("encoder.conv_norm_out"), conv("encoder.conv_out"));
        }
    }
}
