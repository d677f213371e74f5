package dev.zimage4j.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchRealCommandTest {

    private static String[] run(int expected, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(expected, Main.run(args, new PrintStream(out), new PrintStream(err)), err.toString());
        return new String[]{out.toString(), err.toString()};
    }

    @Test
    void badArgumentsAreUsageErrorsNamingTheOption() {
        assertTrue(run(2, "bench-real", "--sizes", "1024,x")[1].contains("--sizes"));
        assertTrue(run(2, "bench-real", "--runs", "0")[1].contains("--runs"));
        assertTrue(run(2, "bench-real", "--preset", "huge")[1].contains("--preset"));
    }

    @Test
    void tinyPresetRunsOnTheCpu() {
        String out = run(0, "bench-real", "--preset", "tiny", "--backend", "cpu", "--sizes", "32", "--runs", "1", "--steps", "1")[0];
        assertTrue(out.contains("=== summary (RANDOM weights, preset tiny; backend cpu)"), out);
        assertTrue(out.contains("32² 1-step txt2img warm median"), out);
        assertTrue(out.contains("READY: JVM start → ready"), out);
    }
}
