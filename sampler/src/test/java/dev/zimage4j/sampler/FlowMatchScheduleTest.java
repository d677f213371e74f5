package dev.zimage4j.sampler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.Iterator;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FlowMatchScheduleTest {

    /** README measure: max|a−b| / max|b|. */
    private static double relMax(float[] a, float[] b) {
        assertEquals(b.length, a.length, "length");
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num = Math.max(num, Math.abs((double) a[i] - b[i]));
            den = Math.max(den, Math.abs(b[i]));
        }
        return den == 0 ? num : num / den;
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) array.get(i).asDouble();
        return out;
    }

    @SuppressWarnings("unchecked")
    static SchedulerConfig config(FixtureFiles f) throws Exception {
        return SchedulerConfig.fromJson(new ObjectMapper().convertValue(f.config("scheduler/scheduler_config.json"), Map.class));
    }

    /** {@code scheduler_shift3} for every step count in the fixtures (1..12 in tiny-a), sigmas and timesteps. */
    @Test
    void schedulerTablesMatchDiffusers() throws Exception {
        int checked = 0;
        for (FixtureFiles f : FixtureFiles.all()) {
            SchedulerConfig config = config(f);
            assertEquals(3.0, config.shift(), "these tables are for the shift-3 config the folder ships");
            for (Iterator<Map.Entry<String, JsonNode>> it = f.cases.path("scheduler_shift3").fields(); it.hasNext(); ) {
                var e = it.next();
                int n = Integer.parseInt(e.getKey());
                FlowMatchSchedule s = FlowMatchSchedule.create(config, n, 1024);
                float[] sig = floats(e.getValue().get("sigmas"));
                float[] ts = floats(e.getValue().get("timesteps"));
                assertTrue(relMax(s.sigmas(), sig) <= 1e-4, f + " N=" + n + " sigmas " + s + " vs " + e.getValue().get("sigmas"));
                assertTrue(relMax(s.timesteps(), ts) <= 1e-4, f + " N=" + n + " timesteps");
                assertEquals(0f, s.sigma(n));
                checked++;
            }
        }
        assertTrue(checked >= 12, "expected the 1..12-step tables, found " + checked);
    }

    @Test
    void turboEightStepTableOfTheSpec() {
        FlowMatchSchedule s = FlowMatchSchedule.create(SchedulerConfig.turbo(), 8, 4096);
        float[] spec = {1f, .954545f, .9f, .833333f, .75f, .642857f, .5f, .3f, 0f};
        float[] got = s.sigmas();
        for (int i = 0; i < spec.length; i++) assertEquals(spec[i], got[i], 1e-6, "sigma " + i);
        assertEquals(0f, s.modelTime(0));
        assertEquals(0.7f, s.modelTime(7), 1e-6);
        assertEquals(300f, s.timestep(7), 1e-4);
        // the current 9-step schedule is a genuinely different one (spec §5)
        float[] nine = FlowMatchSchedule.create(SchedulerConfig.turbo(), 9, 4096).sigmas();
        assertEquals(0.96f, nine[1], 1e-6);
        assertEquals(0.272727f, nine[8], 1e-6);
    }

    @Test
    void dynamicShiftUsesMuOfTheImageTokenCount() {
        SchedulerConfig c = new SchedulerConfig(1000, 3.0, true, 0.5, 1.15, 256, 4096, SchedulerConfig.TimeShift.EXPONENTIAL, Double.NaN);
        assertEquals(1.15, FlowMatchSchedule.mu(c, 4096), 1e-12);
        assertEquals(0.63, FlowMatchSchedule.mu(c, 1024), 1e-12);
        FlowMatchSchedule s = FlowMatchSchedule.create(c, 2, 4096);
        double e = Math.exp(1.15);
        assertEquals(1f, s.sigma(0));
        assertEquals(e / (e + 1), s.sigma(1), 1e-6); // unshifted 0.5
        SchedulerConfig lin = new SchedulerConfig(1000, 3.0, true, 0.5, 1.15, 256, 4096, SchedulerConfig.TimeShift.LINEAR, Double.NaN);
        assertEquals(1.15 / 2.15, FlowMatchSchedule.create(lin, 2, 4096).sigma(1), 1e-6);
    }

    @Test
    void shiftTerminalStretchesTheLastSigma() {
        SchedulerConfig c = new SchedulerConfig(1000, 3.0, false, 0.5, 1.15, 256, 4096, SchedulerConfig.TimeShift.EXPONENTIAL, 0.1);
        FlowMatchSchedule s = FlowMatchSchedule.create(c, 8, 4096);
        assertEquals(0.1f, s.sigma(7), 1e-6);
        assertEquals(1f, s.sigma(0), 1e-6);
    }

    @Test
    void configFromJsonReadsKeysAndRejectsUnsupportedOptions() {
        SchedulerConfig c = SchedulerConfig.fromJson(Map.of("shift", 6.0, "use_dynamic_shifting", false));
        assertEquals(6.0, c.shift());
        assertEquals(1000, c.numTrainTimesteps());
        var e = assertThrows(SchedulerConfigException.class, () -> SchedulerConfig.fromJson(Map.of("use_karras_sigmas", true)));
        assertEquals("use_karras_sigmas", e.key());
        e = assertThrows(SchedulerConfigException.class, () -> SchedulerConfig.fromJson(Map.of("shift", "three")));
        assertEquals("shift", e.key());
        e = assertThrows(SchedulerConfigException.class, () -> SchedulerConfig.fromJson(Map.of("time_shift_type", "cubic")));
        assertEquals("time_shift_type", e.key());
    }

    @Test
    void eulerStepNegatesTheModelOutput() {
        FlowMatchSchedule s = FlowMatchSchedule.create(SchedulerConfig.turbo(), 8, 4096);
        float[] x = {1f, -2f};
        float[] v = {0.5f, 4f};
        s.step(7, x, v); // σ 0.3 → 0: x + (0 − 0.3)·(−v) = x + 0.3·v
        assertArrayEquals(new float[]{1f + (0f - 0.3f) * -0.5f, -2f + (0f - 0.3f) * -4f}, x);
        // x₀ recovered from an exact velocity: x_σ = (1−σ)x₀ + σε, v = x₀ − ε
        float x0 = 0.25f, eps = -1.5f, sigma = s.sigma(7);
        float[] xs = {(1 - sigma) * x0 + sigma * eps};
        s.step(7, xs, new float[]{x0 - eps});
        assertEquals(x0, xs[0], 1e-6);
    }

    @Test
    void img2imgStrengthSkipsTheFirstSteps() {
        assertEquals(3, FlowMatchSchedule.img2imgStart(8, 0.6));
        assertEquals(0, FlowMatchSchedule.img2imgStart(8, 1.0));
        assertEquals(7, FlowMatchSchedule.img2imgStart(8, 0.1));
        assertEquals(8, FlowMatchSchedule.img2imgStart(8, 0.0));
        FlowMatchSchedule full = FlowMatchSchedule.create(SchedulerConfig.turbo(), 8, 4096);
        FlowMatchSchedule part = full.from(3);
        assertEquals(5, part.steps());
        assertEquals(full.sigma(3), part.sigma(0));
        assertEquals(0f, part.sigma(5));
        assertThrows(IllegalArgumentException.class, () -> full.from(8));
        float[] z = {2f};
        part.noise(z, new float[]{-1f});
        float s0 = full.sigma(3);
        assertEquals(s0 * -1f + (1f - s0) * 2f, z[0]);
    }
}
