package dev.zimage4j.bench;

import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.SafetensorsWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** The checkpoint files the safetensors benchmarks write for themselves. */
final class BenchFiles {
    private BenchFiles() {
    }

    /** {@code dir} (the temp dir when empty) / {@code zimage4j-bench-<what>-<MiB>MiB.safetensors}. */
    static Path path(String dir, String what, long mib) {
        Path d = dir.isEmpty() ? Path.of(System.getProperty("java.io.tmpdir")) : Path.of(dir);
        return d.resolve("zimage4j-bench-" + what + "-" + mib + "MiB.safetensors");
    }

    /**
     * Writes (unless already there) one BF16 tensor {@code weights} of {@code mib} MiB holding N(0, 0.02) values,
     * streamed through {@link SafetensorsWriter} 1 MiB at a time.
     */
    static void ensure(Path file, long mib) throws IOException {
        long bytes = mib << 20;
        if (Files.exists(file) && Files.size(file) > bytes) return;
        short[] block = new short[1 << 19];
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < block.length; i++) {
            double u = rnd.nextDouble(), v = rnd.nextDouble();
            block[i] = FloatConversion.floatToBf16((float) (0.02 * Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v)));
        }
        MemorySegment blockBytes = MemorySegment.ofArray(new byte[block.length * 2]);
        MemorySegment.copy(block, 0, blockBytes, ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, block.length);
        new SafetensorsWriter().metadata("format", "pt").add("weights", DType.BF16, new long[]{bytes / 2}, sink -> {
            for (long left = bytes; left > 0; left -= blockBytes.byteSize())
                sink.put(blockBytes.asSlice(0, Math.min(left, blockBytes.byteSize())));
        }).write(file);
    }
}
