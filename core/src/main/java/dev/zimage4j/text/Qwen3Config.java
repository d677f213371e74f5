package dev.zimage4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.TensorView;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The Qwen3 text-encoder hyper-parameters (spec §3.1), from {@code text_encoder/config.json} or, for a
 * lone checkpoint file (ComfyUI's {@code qwen_3_4b.safetensors}), inferred from the tensor shapes.
 *
 * @param hiddenSize        model width (2560)
 * @param numLayers         decoder layers in the checkpoint (36); the encoder runs {@code numLayers − 1}
 * @param numHeads          query heads (32)
 * @param numKvHeads        key/value heads (8)
 * @param headDim           dims per head (128; independent of {@code hiddenSize})
 * @param intermediateSize  SwiGLU width (9728)
 * @param vocabSize         embedding rows (151936)
 * @param rmsNormEps        epsilon of every RMSNorm (1e-6)
 * @param ropeTheta         RoPE base (1e6)
 */
public record Qwen3Config(int hiddenSize, int numLayers, int numHeads, int numKvHeads, int headDim,
                          int intermediateSize, int vocabSize, double rmsNormEps, double ropeTheta) {
    /** Qwen3-4B's values for what a checkpoint's shapes cannot tell (epsilon, RoPE base). */
    public static final double DEFAULT_EPS = 1e-6, DEFAULT_ROPE_THETA = 1_000_000.0;

    public Qwen3Config {
        List<String> bad = new ArrayList<>();
        if (hiddenSize < 1) bad.add("hidden_size " + hiddenSize + " must be positive");
        if (numLayers < 2) bad.add("num_hidden_layers " + numLayers + " must be at least 2 (the output is the second-to-last layer's)");
        if (numHeads < 1 || numKvHeads < 1 || numHeads % numKvHeads != 0)
            bad.add("num_attention_heads " + numHeads + " must be a positive multiple of num_key_value_heads " + numKvHeads);
        if (headDim < 2 || headDim % 2 != 0) bad.add("head_dim " + headDim + " must be even and positive (rotate-half RoPE)");
        if (intermediateSize < 1) bad.add("intermediate_size " + intermediateSize + " must be positive");
        if (vocabSize < 1) bad.add("vocab_size " + vocabSize + " must be positive");
        if (!(rmsNormEps > 0)) bad.add("rms_norm_eps " + rmsNormEps + " must be positive");
        if (!(ropeTheta > 1)) bad.add("rope_theta " + ropeTheta + " must be greater than 1");
        if (!bad.isEmpty()) throw new TextEncoderConfigException("invalid Qwen3 config: " + String.join("; ", bad));
    }

    /** Layers actually computed: hidden_states[−2] is the raw output of layer {@code numLayers − 2}. */
    public int layersUsed() {
        return numLayers - 1;
    }

    /**
     * Reads a Hugging Face Qwen3 {@code config.json}. {@code rope_theta} is read at top level (real
     * Qwen3-4B) or under {@code rope_parameters} (newer transformers). Features this encoder does not
     * implement (biases, sliding window, RoPE scaling, another activation) are refused by name.
     */
    public static Qwen3Config load(Path configJson) {
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(configJson.toFile());
        } catch (IOException e) {
            throw new TextEncoderConfigException(configJson + ": cannot read Qwen3 config: " + e.getMessage(), e);
        }
        if (c == null || !c.isObject()) throw new TextEncoderConfigException(configJson + ": not a JSON object");
        return fromJson(c, configJson.toString());
    }

    /** {@link #load} from an already parsed object; {@code source} names it in messages. */
    public static Qwen3Config fromJson(JsonNode c, String source) {
        List<String> problems = new ArrayList<>();
        String type = c.path("model_type").asText("qwen3");
        if (!type.equals("qwen3")) problems.add("model_type is '" + type + "', expected 'qwen3'");
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) problems.add("hidden_act is '" + act + "'; only silu (SwiGLU) is implemented");
        if (c.path("attention_bias").asBoolean(false)) problems.add("attention_bias is true; Qwen3 has no biases and none are implemented");
        if (c.path("use_sliding_window").asBoolean(false)) problems.add("use_sliding_window is true; only full attention is implemented");
        for (JsonNode lt : c.path("layer_types"))
            if (!lt.asText().equals("full_attention")) {
                problems.add("layer_types contains '" + lt.asText() + "'; only full_attention is implemented");
                break;
            }
        JsonNode ropeParams = c.path("rope_parameters");
        JsonNode scaling = c.path("rope_scaling");
        String ropeType = ropeParams.path("rope_type").asText(scaling.isObject() ? scaling.path("rope_type").asText(scaling.path("type").asText("default")) : "default");
        if (!ropeType.equals("default")) problems.add("rope_type is '" + ropeType + "'; only default RoPE (no scaling) is implemented");
        JsonNode theta = c.has("rope_theta") ? c.get("rope_theta") : ropeParams.path("rope_theta");
        if (!theta.isNumber()) problems.add("rope_theta is missing (looked at top level and under rope_parameters)");
        int hidden = intField(c, "hidden_size", problems);
        int heads = intField(c, "num_attention_heads", problems);
        int kvHeads = c.has("num_key_value_heads") ? intField(c, "num_key_value_heads", problems) : heads;
        // transformers' Qwen3Config defaults head_dim to 128, not hidden/heads
        int headDim = c.has("head_dim") && !c.get("head_dim").isNull() ? intField(c, "head_dim", problems) : 128;
        int layers = intField(c, "num_hidden_layers", problems);
        int inter = intField(c, "intermediate_size", problems);
        int vocab = intField(c, "vocab_size", problems);
        double eps = c.path("rms_norm_eps").asDouble(DEFAULT_EPS);
        if (!problems.isEmpty())
            throw new TextEncoderConfigException(source + ": unusable Qwen3 config:\n  " + String.join("\n  ", problems));
        try {
            return new Qwen3Config(hidden, layers, heads, kvHeads, headDim, inter, vocab, eps, theta.asDouble());
        } catch (TextEncoderConfigException e) {
            throw new TextEncoderConfigException(source + ": " + e.getMessage(), e);
        }
    }

    private static int intField(JsonNode c, String name, List<String> problems) {
        JsonNode n = c.get(name);
        if (n == null || !n.canConvertToInt() || !n.isIntegralNumber()) {
            problems.add(name + (n == null ? " is missing" : " is " + n + ", expected an integer"));
            return 0;
        }
        return n.asInt();
    }

    /**
     * The config of a checkpoint that came without {@code config.json}, from its shapes: width and
     * vocabulary from the embedding, head size from {@code q_norm}, head counts from the q/k
     * projections, SwiGLU width from {@code gate_proj}, the layer count from the highest layer index.
     * Epsilon and RoPE base are not stored in the weights and take Qwen3-4B's values.
     *
     * @param prefix the key prefix in front of {@code embed_tokens.weight} (e.g. {@code "model."})
     */
    public static Qwen3Config infer(Checkpoint ckpt, String prefix) {
        String src = ckpt.source();
        TensorView embed = require(ckpt, prefix + "embed_tokens.weight", 2);
        TensorView qNorm = require(ckpt, prefix + "layers.0.self_attn.q_norm.weight", 1);
        TensorView q = require(ckpt, prefix + "layers.0.self_attn.q_proj.weight", 2);
        TensorView k = require(ckpt, prefix + "layers.0.self_attn.k_proj.weight", 2);
        TensorView gate = require(ckpt, prefix + "layers.0.mlp.gate_proj.weight", 2);
        int layers = 0;
        String lp = prefix + "layers.";
        for (String name : ckpt.names().tailSet(lp)) {
            if (!name.startsWith(lp)) break;
            int dot = name.indexOf('.', lp.length());
            try {
                if (dot > 0) layers = Math.max(layers, Integer.parseInt(name.substring(lp.length(), dot)) + 1);
            } catch (NumberFormatException ignored) {
                // not a numbered layer key
            }
        }
        int headDim = (int) qNorm.shape()[0];
        if (q.shape()[0] % headDim != 0 || k.shape()[0] % headDim != 0)
            throw new TextEncoderConfigException(src + ": q_proj " + q + " / k_proj " + k + " rows are not a multiple of q_norm's head size " + headDim);
        try {
            return new Qwen3Config((int) embed.shape()[1], layers, (int) (q.shape()[0] / headDim), (int) (k.shape()[0] / headDim),
                    headDim, (int) gate.shape()[0], (int) embed.shape()[0], DEFAULT_EPS, DEFAULT_ROPE_THETA);
        } catch (TextEncoderConfigException e) {
            throw new TextEncoderConfigException(src + " (config inferred from shapes): " + e.getMessage(), e);
        }
    }

    private static TensorView require(Checkpoint ckpt, String name, int rank) {
        TensorView t = ckpt.find(name).orElseThrow(() -> new TextEncoderCheckpointException(ckpt.source(),
                List.of("missing " + name + " (needed to infer the config of a checkpoint without config.json)")));
        if (t.shape().length != rank)
            throw new TextEncoderCheckpointException(ckpt.source(), List.of(name + " has shape " + java.util.Arrays.toString(t.shape()) + ", expected rank " + rank));
        return t;
    }
}
