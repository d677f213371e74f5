package dev.zimage4j.safetensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Closing a checkpoint unmaps its files and keeps no file descriptor, however often it is done. */
class ResourceLeakTest {
    @TempDir
    Path dir;

    private static long openDescriptors() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private static long mappingsOf(Path file) throws IOException {
        String real = file.toRealPath().toString();
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.endsWith(real)).count();
        }
    }

    @Test
    void thousandsOfOpenCloseCyclesLeakNothing() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "needs Linux /proc");
        Path single = TinyFixtureTest.tiny().resolve("transformer/diffusion_pytorch_model.safetensors");
        Path sharded = new SafetensorsWriter()
                .add("a", DType.F32, new long[]{1024}, s -> s.put(new byte[4096], 0, 4096))
                .add("b", DType.F32, new long[]{1024}, s -> s.put(new byte[4096], 0, 4096))
                .writeSharded(dir, "m", 4096);
        Path shard = dir.resolve("m-00001-of-00002.safetensors");
        try (Checkpoint warm = Safetensors.open(single)) {
            assertFalse(warm.names().isEmpty());
        }
        long before = openDescriptors();
        for (int i = 0; i < 2000; i++) {
            Path p = i % 2 == 0 ? single : sharded;
            Checkpoint c = Safetensors.open(p);
            TensorView t = c.get(c.names().first());
            t.data().get(ValueLayout.JAVA_BYTE, 0);
            if (i == 0) assertEquals(1, mappingsOf(single), "mapped while open");
            if (i == 1) assertEquals(1, mappingsOf(shard), "mapped while open");
            c.close();
            if (i < 2) assertEquals(0, mappingsOf(i == 0 ? single : shard), "unmapped by close");
        }
        assertEquals(before, openDescriptors(), "file descriptors after 2000 open/close cycles");
        assertEquals(0, mappingsOf(single));
        assertEquals(0, mappingsOf(shard));
    }

    @Test
    void failedOpensLeakNothingEither() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "needs Linux /proc");
        Path bad = Raw.write(dir.resolve("bad.safetensors"), Raw.file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[4]));
        long before = openDescriptors();
        for (int i = 0; i < 500; i++) assertThrows(OffsetsOutOfBoundsException.class, () -> Safetensors.open(bad));
        assertEquals(before, openDescriptors());
        assertEquals(0, mappingsOf(bad), "a rejected file is unmapped at once");
    }

    @Test
    void viewsAreUnusableAfterCloseWithoutCrashing() {
        Checkpoint c = Safetensors.open(TinyFixtureTest.tiny().resolve("vae"));
        TensorView t = c.get(c.names().first());
        c.close();
        c.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> t.getFloat(0));
        assertThrows(IllegalStateException.class, () -> FloatConversion.toFloat(t.dtype(), t.data(), 0, new float[1], 0, 1));
    }
}
