package dev.zimage4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelsCommandTest {

    @Test
    void dumpPtxWritesEveryKernel(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int rc = Main.run(new String[]{"kernels", "dump-ptx", dir.toString()}, new PrintStream(out), new PrintStream(err));
        assertEquals(0, rc, err.toString());
        try (var files = Files.list(dir)) {
            var list = files.toList();
            assertTrue(list.size() >= 30, list.toString());
            for (Path f : list) {
                String s = Files.readString(f);
                assertTrue(s.contains(".target sm_90") && s.contains(".entry " + f.getFileName().toString().replace(".ptx", "")), f.toString());
            }
        }
    }

    @Test
    void badArgumentsAreAUsageError() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(2, Main.run(new String[]{"kernels", "dump"}, new PrintStream(out), new PrintStream(err)));
        assertTrue(err.toString().contains("dump-ptx"), err.toString());
    }
}
