package dev.zimage4j.check;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.sampler.FlowMatchSchedule;
import dev.zimage4j.sampler.SchedulerConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * {@code check-reference --only scheduler}: {@code scheduler_shift3["N"]} sigmas and timesteps for every N,
 * from the folder's {@code scheduler/scheduler_config.json}; tolerance 1e-4 (README).
 */
public final class SchedulerStage implements ReferenceStage {
    static final double TOLERANCE = 1e-4;

    @Override
    public String name() {
        return "scheduler";
    }

    @Override
    public int order() {
        return 10;
    }

    /** The scheduler configuration of a model folder ({@code scheduler/scheduler_config.json}). */
    @SuppressWarnings("unchecked")
    public static SchedulerConfig readConfig(Path modelDir) throws IOException {
        Path p = modelDir.resolve("scheduler").resolve("scheduler_config.json");
        if (!Files.isRegularFile(p)) throw new IOException(modelDir + " has no scheduler/scheduler_config.json");
        return SchedulerConfig.fromJson(new ObjectMapper().readValue(p.toFile(), Map.class));
    }

    @Override
    public List<CaseResult> run(Fixtures f, Backend backend) throws IOException {
        List<CaseResult> out = new ArrayList<>();
        JsonNode tables = f.cases().path("scheduler_shift3");
        if (tables.isMissingNode() || tables.isEmpty()) return out;
        SchedulerConfig config = readConfig(f.dir());
        for (Iterator<Map.Entry<String, JsonNode>> it = tables.fields(); it.hasNext(); ) {
            var e = it.next();
            int steps = Integer.parseInt(e.getKey());
            FlowMatchSchedule s = FlowMatchSchedule.create(config, steps, 4096);
            out.add(new CaseResult(name(), "sigmas N=" + steps, Errors.relMax(s.sigmas(), floats(e.getValue().get("sigmas"))), TOLERANCE, ""));
            out.add(new CaseResult(name(), "timesteps N=" + steps, Errors.relMax(s.timesteps(), floats(e.getValue().get("timesteps"))), TOLERANCE, ""));
        }
        return out;
    }

    private static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }
}
