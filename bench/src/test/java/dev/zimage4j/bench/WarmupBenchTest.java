package dev.zimage4j.bench;

import dev.zimage4j.cli.UsageException;
import org.junit.jupiter.api.Test;

import java.io.PrintStream;
import java.io.OutputStream;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** bench-warmup: the thread groups its CPU table is made of, and its usage errors. */
class WarmupBenchTest {

    @Test
    void threadsAreGroupedByRole() {
        assertEquals("C2", WarmupBench.ThreadCpu.group("C2 CompilerThre"));
        assertEquals("C1", WarmupBench.ThreadCpu.group("C1 CompilerThre"));
        assertEquals("gc/vm", WarmupBench.ThreadCpu.group("GC Thread#0"));
        assertEquals("gc/vm", WarmupBench.ThreadCpu.group("VM Thread"));
        assertEquals("pool", WarmupBench.ThreadCpu.group("zimage-cpu-1"));
        assertEquals("main", WarmupBench.ThreadCpu.group("main"));
        assertEquals("other", WarmupBench.ThreadCpu.group("Signal Dispatch"));
    }

    @Test
    void badArgumentsAreUsageErrors() {
        PrintStream none = new PrintStream(OutputStream.nullOutputStream());
        WarmupBench b = new WarmupBench();
        assertThrows(UsageException.class, () -> b.run(List.of("--size", "64"), none, none));
        assertThrows(UsageException.class, () -> b.run(List.of("--runs", "0"), none, none));
        assertThrows(UsageException.class, () -> b.run(List.of("extra"), none, none));
    }
}
