package dev.zimage4j.bench;

import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.safetensors.TensorView;
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
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * BF16 → F32 of a mapped tensor into a float[]: {@code bf16ToF32Vector} is the library's bulk
 * {@link FloatConversion#toFloat}, {@code bf16ToF32Scalar} one element at a time; the baseline {@code readChunk}
 * reads the same bytes with {@link FileChannel#read} into a heap buffer. {@code convertMiB} is the BF16 input
 * size: 1 MiB stays in cache (compute-bound), 64 MiB streams through memory (the weight-loading case).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class Bf16ConversionBench {
    @Param({"1", "64"})
    public int convertMiB;
    @Param("")
    public String dir;

    private Path file;
    private Checkpoint checkpoint;
    private MemorySegment bf16;
    private float[] out;
    private ByteBuffer heap;
    private long dataOffset;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        file = BenchFiles.path(dir, "convert", convertMiB);
        BenchFiles.ensure(file, convertMiB);
        checkpoint = Safetensors.open(file);
        TensorView w = checkpoint.get("weights");
        bf16 = w.data();
        out = new float[Math.toIntExact(w.numel())];
        heap = ByteBuffer.allocate(Math.toIntExact(bf16.byteSize()));
        dataOffset = Files.size(file) - bf16.byteSize(); // the only tensor ends the file
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        checkpoint.close();
        Files.deleteIfExists(file);
    }

    @Benchmark
    public float[] bf16ToF32Vector() {
        FloatConversion.toFloat(DType.BF16, bf16, 0, out, 0, out.length);
        return out;
    }

    @Benchmark
    public float[] bf16ToF32Scalar() {
        for (int i = 0; i < out.length; i++) out[i] = FloatConversion.get(DType.BF16, bf16, i);
        return out;
    }

    @Benchmark
    public ByteBuffer readChunk() throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            heap.clear();
            while (heap.hasRemaining() && ch.read(heap, dataOffset + heap.position()) > 0) {
                // FileChannel.read may return short counts
            }
        }
        return heap;
    }
}
