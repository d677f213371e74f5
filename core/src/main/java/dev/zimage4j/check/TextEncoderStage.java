package dev.zimage4j.check;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.text.Qwen3TextEncoder;
import dev.zimage4j.tokenizer.PromptEncoder;
import dev.zimage4j.tokenizer.QwenTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code check-reference} stage {@code text}: every {@code text_encoder_cases} prompt through the
 * tokenizer and the Qwen3 encoder loaded from the folder's {@code text_encoder/}; the output
 * (hidden_states[−2] of the real tokens) against the reference tensor, max|a−b|/max|b| ≤ 1e-4.
 */
public final class TextEncoderStage implements ReferenceStage {
    /** The fixtures README's tolerance for a float32 text-encoder forward. */
    public static final double TOLERANCE = 1e-4;

    @Override
    public String name() {
        return "text";
    }

    @Override
    public int order() {
        return 20;
    }

    @Override
    public List<CaseResult> run(Fixtures fixtures, Backend backend) {
        JsonNode cases = fixtures.cases().path("text_encoder_cases");
        List<CaseResult> results = new ArrayList<>();
        if (cases.isEmpty()) return results;
        Tolerance tol = Tolerance.of(TOLERANCE, backend);
        PromptEncoder prompts = new PromptEncoder(QwenTokenizer.forModel(fixtures.dir()));
        try (Qwen3TextEncoder encoder = Qwen3TextEncoder.load(fixtures.dir(), backend)) {
            for (JsonNode c : cases) {
                String tensor = c.path("tensor").asText();
                int[] ids = prompts.encode(c.path("prompt").asText()).ids();
                int[] shape = fixtures.shape(tensor);
                float[] actual = encoder.encode(ids);
                String detail = ids.length + " tokens";
                if (shape.length != 2 || shape[0] != ids.length || shape[1] != encoder.config().hiddenSize())
                    results.add(new CaseResult("text", tensor, Double.POSITIVE_INFINITY, tol.maxRelError(),
                            "output [" + ids.length + ", " + encoder.config().hiddenSize() + "] vs reference " + Arrays.toString(shape)));
                else
                    results.add(tol.judge("text", tensor, actual, fixtures.tensor(tensor), detail));
            }
        }
        return results;
    }
}
