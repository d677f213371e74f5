package dev.zimage4j.check;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.sampler.TorchGenerator;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code check-reference --only rng}: every {@code rng_cases} entry, {@code torch.randn(shape,
 * generator=torch.Generator().manual_seed(seed))}, must be reproduced bit for bit. The error is the fraction
 * of differing values (tolerance 0). Large cases store the first and last halves of the stored count.
 */
public final class RngStage implements ReferenceStage {

    @Override
    public String name() {
        return "rng";
    }

    @Override
    public int order() {
        return 20;
    }

    @Override
    public List<CaseResult> run(Fixtures f, Backend backend) {
        List<CaseResult> out = new ArrayList<>();
        for (JsonNode c : f.cases().path("rng_cases")) {
            String tensor = c.get("tensor").asText();
            int[] shape = new int[c.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = c.get("shape").get(i).asInt();
            float[] actual = new TorchGenerator(c.get("seed").asLong()).randn(shape);
            float[] expected = f.tensor(tensor);
            if (expected.length < actual.length) { // first half and last half of the flattened tensor
                int half = expected.length / 2;
                float[] stitched = new float[expected.length];
                System.arraycopy(actual, 0, stitched, 0, half);
                System.arraycopy(actual, actual.length - half, stitched, half, expected.length - half);
                actual = stitched;
            }
            int differ = 0, first = -1;
            for (int i = 0; i < expected.length; i++)
                if (Float.floatToRawIntBits(actual[i]) != Float.floatToRawIntBits(expected[i])) {
                    if (first < 0) first = i;
                    differ++;
                }
            String detail = first < 0 ? "" : differ + " of " + expected.length + " differ, first at " + first + ": "
                    + actual[first] + " vs " + expected[first];
            out.add(new CaseResult(name(), tensor, expected.length == 0 ? 0 : (double) differ / expected.length, 0, detail));
        }
        return out;
    }
}
