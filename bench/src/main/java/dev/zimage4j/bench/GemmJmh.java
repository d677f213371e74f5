package dev.zimage4j.bench;

import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.kernels.cpu.CpuBackend;
import dev.zimage4j.safetensors.DType;
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
 * JMH: {@code CpuBackend.linear} at the DiT's GEMM shapes, F32 and BF16 weights. GFLOP/s = 2·M·K·N / time.
 * Run: {@code java -cp 'bench/target/dist/lib/*' org.openjdk.jmh.Main GemmJmh} (add {@code -p m=1024 -p kn=3840x3840}
 * to pick shapes).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class GemmJmh {
    @Param({"512", "1024", "4224"})
    public int m;
    /** K x N: qkv, out, w1/w3, w2, and the text encoder's MLP. */
    @Param({"3840x3840", "3840x11520", "3840x10240", "10240x3840", "2560x9728"})
    public String kn;
    @Param({"F32", "BF16"})
    public String dtype;

    CpuBackend cpu;
    Weight w;
    Tensor x, y;

    @Setup(Level.Trial)
    public void setup() {
        String[] p = kn.split("x");
        int k = Integer.parseInt(p[0]), n = Integer.parseInt(p[1]);
        cpu = new CpuBackend();
        w = GemmBench.weight(cpu, n, k, DType.valueOf(dtype));
        x = GemmBench.random(cpu, m, k);
        y = cpu.alloc(m, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cpu.close();
    }

    @Benchmark
    public void linear() {
        cpu.linear(y, x, w, null);
    }
}
