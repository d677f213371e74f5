package dev.zimage4j.bench;

import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * Opening a multi-GB checkpoint: {@code openTouchPages} opens (maps, validates) it, reads one byte of every
 * 4 KiB page of every tensor, and closes (unmaps) it; {@code openLoad} does the same through
 * {@link MemorySegment#load()} (madvise WILLNEED + touch); the baseline {@code readFile} reads the whole file with
 * {@link FileChannel#read} through an 8 MiB buffer. The file ({@code sizeMiB}) is written by the benchmark and
 * deleted afterwards unless {@code keep}. After the first iteration the page cache is warm, so this measures
 * mapping and page-fault cost against copying, not the disk. {@link SafetensorsBenchMain} prints GB/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class SafetensorsLoadBench {
    private static final int PAGE = 4096;

    @Param("2048")
    public long sizeMiB;
    @Param("")
    public String dir;
    @Param("false")
    public boolean keep;

    private Path file;
    private final ByteBuffer chunk = ByteBuffer.allocateDirect(8 << 20);

    @Setup(Level.Trial)
    public void setup() throws IOException {
        file = BenchFiles.path(dir, "load", sizeMiB);
        BenchFiles.ensure(file, sizeMiB);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        if (!keep) Files.deleteIfExists(file);
    }

    @Benchmark
    public long openTouchPages() {
        try (Checkpoint c = Safetensors.open(file)) {
            long sum = 0;
            for (String n : c.names()) {
                MemorySegment d = c.get(n).data();
                for (long p = 0; p < d.byteSize(); p += PAGE) sum += d.get(ValueLayout.JAVA_BYTE, p);
            }
            return sum;
        }
    }

    @Benchmark
    public long openLoad() {
        try (Checkpoint c = Safetensors.open(file)) {
            long sum = 0;
            for (String n : c.names()) {
                MemorySegment d = c.get(n).data();
                d.load();
                sum += d.get(ValueLayout.JAVA_BYTE, d.byteSize() - 1);
            }
            return sum;
        }
    }

    @Benchmark
    public long readFile() throws IOException {
        long total = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            int n;
            while ((n = ch.read(chunk.clear())) > 0) total += n + chunk.get(0);
        }
        return total;
    }
}
