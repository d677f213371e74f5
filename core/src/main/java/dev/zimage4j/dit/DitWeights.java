package dev.zimage4j.dit;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.TensorView;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The DiT's parameters, prepared by a {@link Backend} straight from the (memory-mapped) checkpoint:
 * the CPU backend computes from the mapped bytes, so nothing is copied or duplicated.
 *
 * @param shapes          derived widths (adaLN, timestep MLP)
 * @param xEmbedderW      {@code all_x_embedder.2-1.weight} [d, 64]
 * @param xEmbedderB      its bias [d]
 * @param tMlp0W          {@code t_embedder.mlp.0.weight} [1024, 256]
 * @param tMlp0B          bias [1024]
 * @param tMlp2W          {@code t_embedder.mlp.2.weight} [adaLN, 1024]
 * @param tMlp2B          bias [adaLN]
 * @param capNorm         {@code cap_embedder.0.weight}: RMSNorm over caption features
 * @param capW            {@code cap_embedder.1.weight} [d, capFeatDim]
 * @param capB            bias [d]
 * @param xPadToken       learned image pad token [1, d]
 * @param capPadToken     learned caption pad token [1, d]
 * @param noiseRefiner    modulated blocks on image tokens
 * @param contextRefiner  unmodulated blocks on caption tokens
 * @param layers          modulated blocks on the joint sequence
 * @param finalAdaW       {@code all_final_layer.2-1.adaLN_modulation.1.weight} [d, adaLN]
 * @param finalAdaB       bias [d]
 * @param finalLinearW    {@code all_final_layer.2-1.linear.weight} [64, d]
 * @param finalLinearB    bias [64]
 */
public record DitWeights(DitShapes shapes,
                         Weight xEmbedderW, Weight xEmbedderB,
                         Weight tMlp0W, Weight tMlp0B, Weight tMlp2W, Weight tMlp2B,
                         Weight capNorm, Weight capW, Weight capB,
                         Weight xPadToken, Weight capPadToken,
                         List<Block> noiseRefiner, List<Block> contextRefiner, List<Block> layers,
                         Weight finalAdaW, Weight finalAdaB, Weight finalLinearW, Weight finalLinearB) {

    /**
     * One transformer block's parameters (diffusers names under {@code layers.i.} etc.).
     * {@code adaLnW}/{@code adaLnB} are null for the unmodulated context-refiner blocks.
     */
    public record Block(Weight attentionNorm1, Weight toQ, Weight toK, Weight toV, Weight normQ, Weight normK,
                        Weight toOut, Weight attentionNorm2,
                        Weight ffnNorm1, Weight w1, Weight w2, Weight w3, Weight ffnNorm2,
                        Weight adaLnW, Weight adaLnB) {

        public boolean modulated() {
            return adaLnW != null;
        }

        List<Weight> all() {
            List<Weight> l = new ArrayList<>(Arrays.asList(attentionNorm1, toQ, toK, toV, normQ, normK, toOut,
                    attentionNorm2, ffnNorm1, w1, w2, w3, ffnNorm2));
            if (adaLnW != null) {
                l.add(adaLnW);
                l.add(adaLnB);
            }
            return l;
        }
    }

    /** Every weight, for release and accounting. */
    public List<Weight> all() {
        List<Weight> l = new ArrayList<>(Arrays.asList(xEmbedderW, xEmbedderB, tMlp0W, tMlp0B, tMlp2W, tMlp2B, capNorm,
                capW, capB, xPadToken, capPadToken, finalAdaW, finalAdaB, finalLinearW, finalLinearB));
        for (List<Block> g : List.of(noiseRefiner, contextRefiner, layers)) for (Block b : g) l.addAll(b.all());
        return l;
    }

    /**
     * Validates {@code ckpt} (either layout, see {@link DitKeyMapping}) against {@code config} and prepares
     * every tensor with {@code backend.weight(view)}.
     *
     * @throws DitCheckpointException listing every missing, unknown, mis-shaped or non-float tensor
     */
    public static DitWeights load(Checkpoint ckpt, DitConfig config, Backend backend) {
        DitKeyMapping.Mapped mapped = DitKeyMapping.map(ckpt);
        Map<String, TensorView> t = mapped.tensors();
        DitShapes shapes = deriveShapes(config, t);
        Map<String, long[]> expected = shapes.expected();

        List<String> problems = new ArrayList<>(mapped.problems());
        for (var e : expected.entrySet()) {
            TensorView v = t.get(e.getKey());
            if (v == null) problems.add("missing " + e.getKey() + " " + Arrays.toString(e.getValue())
                    + (mapped.layout() == DitKeyMapping.Layout.SINGLE_FILE ? " (diffusers name; single-file layout)" : ""));
            else if (!Arrays.equals(v.shape(), e.getValue()))
                problems.add("mis-shaped " + v.name() + ": " + Arrays.toString(v.shape()) + ", expected "
                        + Arrays.toString(e.getValue()));
            else if (!isUsableFloat(v.dtype()))
                problems.add("unsupported dtype " + v.dtype() + " for " + v.name() + " (need F32, BF16 or F16)");
        }
        for (var e : t.entrySet())
            if (!expected.containsKey(e.getKey())) problems.add("unknown tensor " + e.getValue().name()
                    + " " + Arrays.toString(e.getValue().shape()));
        if (!problems.isEmpty()) throw new DitCheckpointException(ckpt.source(), problems);

        List<Weight> prepared = new ArrayList<>();
        Function<String, Weight> w = name -> {
            Weight x = backend.weight(t.get(name));
            prepared.add(x);
            return x;
        };
        try {
            return new DitWeights(shapes,
                    w.apply("all_x_embedder.2-1.weight"), w.apply("all_x_embedder.2-1.bias"),
                    w.apply("t_embedder.mlp.0.weight"), w.apply("t_embedder.mlp.0.bias"),
                    w.apply("t_embedder.mlp.2.weight"), w.apply("t_embedder.mlp.2.bias"),
                    w.apply("cap_embedder.0.weight"), w.apply("cap_embedder.1.weight"), w.apply("cap_embedder.1.bias"),
                    w.apply("x_pad_token"), w.apply("cap_pad_token"),
                    blocks(w, "noise_refiner.", config.nRefinerLayers(), true),
                    blocks(w, "context_refiner.", config.nRefinerLayers(), false),
                    blocks(w, "layers.", config.nLayers(), true),
                    w.apply("all_final_layer.2-1.adaLN_modulation.1.weight"),
                    w.apply("all_final_layer.2-1.adaLN_modulation.1.bias"),
                    w.apply("all_final_layer.2-1.linear.weight"), w.apply("all_final_layer.2-1.linear.bias"));
        } catch (RuntimeException e) {
            for (Weight x : prepared) backend.release(x);
            throw e;
        }
    }

    private static List<Block> blocks(Function<String, Weight> w, String prefix, int n, boolean modulated) {
        List<Block> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String p = prefix + i + ".";
            out.add(new Block(w.apply(p + "attention_norm1.weight"),
                    w.apply(p + "attention.to_q.weight"), w.apply(p + "attention.to_k.weight"),
                    w.apply(p + "attention.to_v.weight"),
                    w.apply(p + "attention.norm_q.weight"), w.apply(p + "attention.norm_k.weight"),
                    w.apply(p + "attention.to_out.0.weight"), w.apply(p + "attention_norm2.weight"),
                    w.apply(p + "ffn_norm1.weight"), w.apply(p + "feed_forward.w1.weight"),
                    w.apply(p + "feed_forward.w2.weight"), w.apply(p + "feed_forward.w3.weight"),
                    w.apply(p + "ffn_norm2.weight"),
                    modulated ? w.apply(p + "adaLN_modulation.0.weight") : null,
                    modulated ? w.apply(p + "adaLN_modulation.0.bias") : null));
        }
        return List.copyOf(out);
    }

    /** adaLN width, timestep-MLP width and sinusoid size from the t_embedder tensors (standard values if absent or odd). */
    static DitShapes deriveShapes(DitConfig config, Map<String, TensorView> t) {
        DitShapes std = DitShapes.standard(config);
        TensorView mlp0 = t.get("t_embedder.mlp.0.weight"), mlp2 = t.get("t_embedder.mlp.2.weight");
        int tHidden = std.tHidden(), tFreq = std.tFreqDim(), ada = std.adaLnWidth();
        if (mlp0 != null && mlp0.shape().length == 2 && mlp0.shape()[1] % 2 == 0 && mlp0.shape()[1] > 0) {
            tHidden = Math.toIntExact(mlp0.shape()[0]);
            tFreq = Math.toIntExact(mlp0.shape()[1]);
        }
        if (mlp2 != null && mlp2.shape().length == 2 && mlp2.shape()[0] > 0) ada = Math.toIntExact(mlp2.shape()[0]);
        return new DitShapes(config, ada, tHidden, tFreq);
    }

    private static boolean isUsableFloat(DType d) {
        return d == DType.F32 || d == DType.BF16 || d == DType.F16;
    }
}
