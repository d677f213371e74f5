package dev.zimage4j.check;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.tokenizer.PromptEncoder;
import dev.zimage4j.tokenizer.QwenTokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code check-reference} stage {@code tokenizer}: every {@code tokenizer_cases} entry must give exactly
 * the reference ids, both the pipeline's (chat template, truncated at 512, padding removed) and the raw
 * prompt's. The tokenizer is the model folder's own {@code tokenizer/} if it has one, else the bundled one.
 * Error 0 when identical, 1 otherwise (the detail names the first difference).
 */
public final class TokenizerStage implements ReferenceStage {
    @Override
    public String name() {
        return "tokenizer";
    }

    @Override
    public int order() {
        return 10;
    }

    @Override
    public List<CaseResult> run(Fixtures fixtures, Backend backend) {
        JsonNode cases = fixtures.cases().path("tokenizer_cases");
        List<CaseResult> results = new ArrayList<>();
        if (cases.isEmpty()) return results;
        QwenTokenizer tokenizer = QwenTokenizer.forModel(fixtures.dir());
        PromptEncoder prompts = new PromptEncoder(tokenizer);
        int i = 0;
        for (JsonNode c : cases) {
            String prompt = c.path("prompt").asText();
            String label = i++ + " " + abbreviate(prompt);
            results.add(compare(label + " templated", prompts.encode(prompt).ids(), ints(c.path("ids_templated_truncated_512"))));
            results.add(compare(label + " raw", tokenizer.encode(prompt), ints(c.path("ids_raw"))));
        }
        return results;
    }

    private static CaseResult compare(String name, int[] actual, int[] expected) {
        int n = Math.min(actual.length, expected.length), at = -1;
        for (int i = 0; i < n && at < 0; i++) if (actual[i] != expected[i]) at = i;
        String detail;
        if (at >= 0) detail = "ids differ at " + at + ": " + actual[at] + " vs " + expected[at];
        else if (actual.length != expected.length) detail = actual.length + " ids vs " + expected.length + " expected";
        else detail = expected.length + " ids";
        boolean same = at < 0 && actual.length == expected.length;
        return new CaseResult("tokenizer", name, same ? 0 : 1, 0, detail);
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    private static String abbreviate(String s) {
        String oneLine = s.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
        return "\"" + (oneLine.length() > 32 ? oneLine.substring(0, 32) + "…" : oneLine) + "\"";
    }
}
