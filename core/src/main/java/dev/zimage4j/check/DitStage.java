package dev.zimage4j.check;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.dit.DitConfig;
import dev.zimage4j.dit.ZImageTransformer;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.safetensors.Safetensors;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code check-reference} stage {@code dit}: every {@code dit_cases} entry (latent {@code x}, caption
 * features {@code cap}, model time {@code t} → output {@code out}) through the DiT loaded from
 * {@code transformer/} (diffusers layout) and, when the folder has one, from {@code single_file/}
 * (ComfyUI layout, same weights, config from {@code transformer/config.json}). Error: max|a−b|/max|b|.
 */
public final class DitStage implements ReferenceStage {
    /** The fixtures README's tolerance for a float32 DiT forward. */
    public static final double TOLERANCE = 1e-4;

    @Override
    public String name() {
        return "dit";
    }

    @Override
    public int order() {
        return 30;
    }

    @Override
    public List<CaseResult> run(Fixtures fixtures, Backend backend) throws Exception {
        JsonNode cases = fixtures.cases().get("dit_cases");
        List<CaseResult> results = new ArrayList<>();
        if (cases == null || cases.isEmpty()) return results;
        Path transformer = fixtures.dir().resolve("transformer");
        DitConfig config = DitConfig.load(transformer.resolve("config.json"));
        try (ZImageTransformer model = ZImageTransformer.load(Safetensors.open(transformer), config, backend)) {
            runCases(fixtures, model, "transformer", cases, Tolerance.of(TOLERANCE, backend), results);
        }
        Path single = fixtures.dir().resolve("single_file");
        if (Files.isDirectory(single)) {
            try (ZImageTransformer model = ZImageTransformer.load(Safetensors.open(single), config, backend)) {
                runCases(fixtures, model, "single_file", cases, Tolerance.of(TOLERANCE, backend), results);
            }
        }
        return results;
    }

    private static void runCases(Fixtures f, ZImageTransformer model, String layout, JsonNode cases, Tolerance tol,
                                 List<CaseResult> out) {
        for (JsonNode c : cases) {
            String outName = c.get("out").asText();
            int[] shape = f.shape(c.get("x").asText()); // [C, 1, H, W]
            int h = shape[shape.length - 2], w = shape[shape.length - 1];
            int[] capShape = f.shape(c.get("cap").asText());
            float[] actual = model.forward(f.tensor(c.get("x").asText()), h, w, (float) c.get("t").asDouble(),
                    f.tensor(c.get("cap").asText()), capShape[0]);
            out.add(tol.judge("dit", layout + ":" + outName, actual, f.tensor(outName),
                    "latent " + h + "×" + w + ", " + capShape[0] + " caption tokens, t " + c.get("t").asText()));
        }
    }
}
