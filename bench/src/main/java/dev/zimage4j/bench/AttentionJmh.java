package dev.zimage4j.bench;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.cpu.CpuBackend;
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

import java.util.concurrent.TimeUnit;

/**
 * JMH: {@code CpuBackend.attention}, 30 heads × 128 (the DiT) at S ∈ {1056, 4224}. GFLOP/s = 4·S²·128·30 / time.
 * Run: {@code java -cp 'bench/target/dist/lib/*' org.openjdk.jmh.Main AttentionJmh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class AttentionJmh {
    @Param({"1056", "4224"})
    public int s;
    @Param({"30"})
    public int heads;
    @Param({"128"})
    public int headDim;

    CpuBackend cpu;
    Tensor q, k, v, o;
    AttentionSpec spec;

    @Setup(Level.Trial)
    public void setup() {
        cpu = new CpuBackend();
        int w = heads * headDim;
        q = GemmBench.random(cpu, s, w);
        k = GemmBench.random(cpu, s, w);
        v = GemmBench.random(cpu, s, w);
        o = cpu.alloc(s, w);
        spec = AttentionSpec.full(heads, headDim, s);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cpu.close();
    }

    @Benchmark
    public void attention() {
        cpu.attention(o, q, k, v, spec);
    }
}
