package dev.zimage4j.engine;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.ImageGenerator;
import dev.zimage4j.pipeline.ProgressListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Prewarm asks the generator how many steps warm a request ({@link ImageGenerator#prewarmSteps}) and runs that many. */
class PrewarmStepsTest {

    /** A generator that records the steps of every generation; {@code prewarmSteps} as given. */
    private static GeneratorFactory recording(List<Integer> steps, java.util.function.IntUnaryOperator prewarmSteps) {
        return (id, dir, reporter) -> new ImageGenerator() {
            public String modelId() {
                return id;
            }

            public List<GeneratedImage> generate(GenerationRequest r, ProgressListener p, CancellationToken c) {
                steps.add(r.steps());
                return List.of(new GeneratedImage(r.width(), r.height(), new byte[r.width() * r.height() * 3], r, r.seed(), Map.of()));
            }

            public int prewarmSteps(int s) {
                return prewarmSteps.applyAsInt(s);
            }

            public long residentBytes() {
                return 0;
            }

            public void close() {
            }
        };
    }

    private static List<Integer> prewarm(Path dir, java.util.function.IntUnaryOperator prewarmSteps) throws Exception {
        ObjectNode o = JsonMapper.builder().build().createObjectNode();
        o.putObject("models").put("m", dir.toString());
        o.put("output_dir", dir.resolve("out").toString());
        o.put("default_size", "64x64");
        o.put("default_steps", 8);
        o.put("port", 0);
        o.putObject("prewarm_on_startup").put("max_runs", 2);
        EngineConfig config = EngineConfig.load(null, o);
        List<Integer> steps = new CopyOnWriteArrayList<>();
        try (Engine e = Engine.open(config, ModelRegistry.of(config), recording(steps, prewarmSteps))) {
            assertFalse(e.ready());
            e.prewarmAndStart();
        }
        return steps;
    }

    @Test
    void prewarmRunsTheStepsTheGeneratorAsksFor(@TempDir Path dir) throws Exception {
        List<Integer> steps = prewarm(dir, s -> Math.min(s, 2));
        assertFalse(steps.isEmpty());
        steps.forEach(s -> assertEquals(2, s, "prewarm steps " + steps));
    }

    @Test
    void byDefaultPrewarmRunsTheConfiguredSteps(@TempDir Path dir) throws Exception {
        List<Integer> steps = prewarm(dir, s -> s);
        assertFalse(steps.isEmpty());
        steps.forEach(s -> assertEquals(8, s, "prewarm steps " + steps));
    }
}
