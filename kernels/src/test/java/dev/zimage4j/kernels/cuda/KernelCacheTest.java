package dev.zimage4j.kernels.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The on-disk cubin cache without a GPU: keying, round trip, atomic replacement, damaged entries. */
class KernelCacheTest {
    private static final String PTX = ".version 8.0\n.target sm_90\n.address_size 64\n.visible .entry k() { ret; }\n";

    /** A fake cubin: an ELF header followed by {@code n} random bytes. */
    private static byte[] cubin(int n, long seed) {
        byte[] b = new byte[4 + n];
        new Random(seed).nextBytes(b);
        b[0] = 0x7f;
        b[1] = 'E';
        b[2] = 'L';
        b[3] = 'F';
        return b;
    }

    private static KernelCache.Key key() {
        return KernelCache.key(PTX, "O4", 13000, 90, "NVIDIA H200");
    }

    @Test
    void keyCoversPtxOptionsDriverAndDevice() {
        KernelCache.Key k = key();
        assertEquals(k, KernelCache.key(PTX, "O4", 13000, 90, "NVIDIA H200"), "same inputs, same key");
        assertTrue(k.hex().matches("[0-9a-f]{64}"));
        List<KernelCache.Key> others = List.of(
                KernelCache.key(PTX + " ", "O4", 13000, 90, "NVIDIA H200"),
                KernelCache.key(PTX, "O3", 13000, 90, "NVIDIA H200"),
                KernelCache.key(PTX, "O4", 12080, 90, "NVIDIA H200"),
                KernelCache.key(PTX, "O4", 13000, 89, "NVIDIA H200"),
                KernelCache.key(PTX, "O4", 13000, 90, "NVIDIA H100 80GB HBM3"));
        for (KernelCache.Key o : others) assertNotEquals(k, o);
        assertEquals(others.size(), others.stream().distinct().count());
    }

    @Test
    void storesAndReadsBackAcrossInstances(@TempDir Path dir) {
        KernelCache writer = new KernelCache(dir.resolve("kernels"));
        assertTrue(writer.get(key()).isEmpty(), "empty cache misses");
        byte[] c = cubin(20_000, 1);
        writer.put(key(), c);
        KernelCache reader = new KernelCache(dir.resolve("kernels")); // a later process
        assertArrayEquals(c, reader.get(key()).orElseThrow());
        assertEquals(new KernelCache.Counts(0, 1, 1, 0), writer.counts());
        assertEquals(new KernelCache.Counts(1, 0, 0, 0), reader.counts());
    }

    @Test
    void replacesAtomicallyAndLeavesNoTemporaryFiles(@TempDir Path dir) throws Exception {
        KernelCache cache = new KernelCache(dir);
        byte[][] versions = new byte[8][];
        for (int i = 0; i < versions.length; i++) versions[i] = cubin(50_000 + i, i);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int round = 0; round < 4; round++)
                for (byte[] v : versions) {
                    fs.add(pool.submit(() -> cache.put(key(), v)));
                    fs.add(pool.submit(() -> cache.get(key()).ifPresent(got -> assertTrue(
                            java.util.Arrays.stream(versions).anyMatch(x -> java.util.Arrays.equals(x, got)), "a reader saw a torn entry"))));
                }
            for (Future<?> f : fs) f.get();
        } finally {
            pool.shutdown();
        }
        assertEquals(0, cache.counts().corrupt(), "no reader ever saw a partial file");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(cache.file(key()).getFileName().toString()), files.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void damagedEntriesAreDeletedAndMiss(@TempDir Path dir) throws IOException {
        KernelCache cache = new KernelCache(dir);
        byte[] c = cubin(4096, 7);
        cache.put(key(), c);
        Path f = cache.file(key());
        byte[] good = Files.readAllBytes(f);
        List<byte[]> damaged = new ArrayList<>();
        damaged.add(java.util.Arrays.copyOf(good, good.length - 1));            // truncated payload
        damaged.add(java.util.Arrays.copyOf(good, 20));                          // truncated header
        byte[] flipped = good.clone();
        flipped[flipped.length - 100] ^= 1;                                      // bit rot in the payload
        damaged.add(flipped);
        byte[] magic = good.clone();
        magic[0] = 'X';                                                          // not our file
        damaged.add(magic);
        damaged.add(new byte[0]);                                                // empty file
        for (byte[] d : damaged) {
            Files.write(f, d);
            assertTrue(cache.get(key()).isEmpty(), "a damaged entry must miss");
            assertFalse(Files.exists(f), "a damaged entry is deleted");
        }
        assertEquals(damaged.size(), cache.counts().corrupt());
        cache.put(key(), c);
        assertArrayEquals(c, cache.get(key()).orElseThrow(), "after a rewrite the entry is good again");
    }

    @Test
    void refusesToStoreSomethingThatIsNotACubin(@TempDir Path dir) {
        KernelCache cache = new KernelCache(dir);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cache.put(key(), PTX.getBytes()));
        assertTrue(e.getMessage().contains("not an ELF cubin"), e.getMessage());
    }

    @Test
    void anUnwritableCacheNeverFailsTheCaller(@TempDir Path dir) throws IOException {
        Path notADir = Files.writeString(dir.resolve("file"), "x");
        KernelCache cache = new KernelCache(notADir.resolve("kernels"));
        cache.put(key(), cubin(100, 3)); // logs, does not throw
        assertTrue(cache.get(key()).isEmpty());
        assertEquals(0, cache.counts().stores());
    }

    @Test
    void locationFromPropertyOrOff(@TempDir Path dir) {
        String old = System.getProperty("zimage.kernel.cache");
        try {
            System.setProperty("zimage.kernel.cache", "off");
            assertTrue(KernelCache.fromSystem().isEmpty());
            System.setProperty("zimage.kernel.cache", dir.toString());
            assertEquals(dir, KernelCache.fromSystem().orElseThrow().directory());
        } finally {
            if (old == null) System.clearProperty("zimage.kernel.cache");
            else System.setProperty("zimage.kernel.cache", old);
        }
    }
}
