package dev.zimage4j.bench;

import dev.zimage4j.engine.Metrics;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the benchmark reads from the server: /metrics, the load trace and prewarm lines of its log; percentiles. */
class BenchParsingTest {

    @Test
    void stageMeansFromTheServersOwnMetricsText() {
        Metrics m = new Metrics();
        m.observeStage("denoise", 0.100);
        m.observeStage("denoise", 0.300);
        m.observeStage("vae", 0.010);
        Map<String, Double> mean = BenchCommand.metricsMeans(m.render());
        assertEquals(200.0, mean.get("denoise"), 1e-6);
        assertEquals(10.0, mean.get("vae"), 1e-6);
        assertEquals(2, mean.size());
    }

    @Test
    void loadComponentsAndPrewarmFromTheServerLog() {
        String log = """
                05:22:01.100 zimage: listening on http://127.0.0.1:8777 (models: demo-tiny; default demo-tiny; output /tmp/o)
                05:22:01.300 zimage: load demo-tiny (trigger: startup prewarm): text_encoder 40 ms 1.2 MiB, transformer 55 ms 2.0 MiB, vae 12 ms 0.5 MiB, total 110 ms, resident 3.7 MiB
                05:22:02.000 zimage: prewarm demo-tiny 64x64, 8 steps: 650 ms
                05:22:02.400 zimage: prewarm demo-tiny 128x128, 8 steps: 350 ms
                05:22:05.000 zimage: load demo-tiny (trigger: request 42): text_encoder 99 ms 1.2 MiB, total 99 ms, resident 1.2 MiB
                """;
        assertEquals(Map.of("text_encoder", 40.0, "transformer", 55.0, "vae", 12.0, "total", 110.0), BenchCommand.loadComponents(log));
        assertEquals(1000.0, BenchCommand.prewarmMillis(log), 1e-9);
        assertTrue(BenchCommand.loadComponents("no load here").isEmpty());
    }

    @Test
    void nearestRankPercentiles() {
        double[] v = new double[100];
        for (int i = 0; i < 100; i++) v[i] = 100 - i; // 100 … 1, unsorted
        Stats s = Stats.of(v);
        assertEquals(50, s.p50());
        assertEquals(95, s.p95());
        assertEquals(100, s.max());
        assertEquals(1, s.min());
        assertEquals(50.5, s.mean(), 1e-12);
        assertEquals(3, Stats.median(new double[]{5, 1, 3}));
    }
}
