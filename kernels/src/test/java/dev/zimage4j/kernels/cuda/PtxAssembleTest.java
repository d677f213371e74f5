package dev.zimage4j.kernels.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Assembles every generated kernel with {@code ptxas -arch=sm_90 -v} ({@code sm_90a} for the wgmma kernels; no GPU needed) and checks the
 * resource report: no spills, no stack frame, registers within 255, shared memory within the opt-in limit.
 * Skipped, with a message, where ptxas is not installed.
 */
class PtxAssembleTest {

    static Path ptxas() {
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv("PTXAS");
        if (env != null) candidates.add(Path.of(env));
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) if (!dir.isEmpty()) candidates.add(Path.of(dir, "ptxas"));
        candidates.add(Path.of("/usr/local/cuda/bin/ptxas"));
        try (var s = Files.list(Path.of("/usr/local"))) {
            s.filter(p -> p.getFileName().toString().startsWith("cuda")).forEach(p -> candidates.add(p.resolve("bin/ptxas")));
        } catch (IOException ignored) {
            // no /usr/local listing: rely on PATH
        }
        return candidates.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }

    private static final Pattern TARGET = Pattern.compile("^\\.target (sm_\\w+)$", Pattern.MULTILINE);
    private static final Pattern REGS = Pattern.compile("Used (\\d+) registers");
    private static final Pattern SPILL = Pattern.compile("(\\d+) bytes spill stores, (\\d+) bytes spill loads");
    private static final Pattern STACK = Pattern.compile("(\\d+) bytes stack frame");
    private static final Pattern SMEM = Pattern.compile("(\\d+) bytes smem");

    @Test
    void everyKernelAssemblesForSm90WithoutSpills() throws Exception {
        Path ptxas = ptxas();
        Assumptions.assumeTrue(ptxas != null, "ptxas not found (PATH, $PTXAS, /usr/local/cuda*/bin): generated PTX not assembled");
        Path dir = Files.createTempDirectory("zimage-ptx");
        List<String> problems = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (KernelCatalog.Entry e : KernelCatalog.all()) {
            assertTrue(names.add(e.name()), "duplicate kernel name " + e.name());
            Path f = dir.resolve(e.name() + ".ptx");
            Files.writeString(f, e.ptx());
            Matcher t = TARGET.matcher(e.ptx());
            assertTrue(t.find(), e.name() + " declares no .target");
            String arch = t.group(1);
            assertTrue(arch.equals("sm_90") || arch.equals("sm_90a") && e.ptx().contains("wgmma."),
                    e.name() + ": sm_90a only where Hopper-only instructions need it, got " + arch);
            Process p = new ProcessBuilder(ptxas.toString(), "-arch=" + arch, "-v", "--warn-on-spills", "-o", "/dev/null", f.toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "ptxas timed out on " + e.name());
            if (p.exitValue() != 0 || log.contains("error")) {
                problems.add(e.name() + ": ptxas failed:\n" + log);
                continue;
            }
            Matcher m = REGS.matcher(log);
            if (m.find() && Integer.parseInt(m.group(1)) > 255) problems.add(e.name() + ": " + m.group(1) + " registers");
            m = SPILL.matcher(log);
            while (m.find()) if (!m.group(1).equals("0") || !m.group(2).equals("0")) problems.add(e.name() + ": spills: " + m.group());
            m = STACK.matcher(log);
            while (m.find()) if (!m.group(1).equals("0")) problems.add(e.name() + ": stack frame " + m.group(1) + " bytes");
            m = SMEM.matcher(log);
            while (m.find()) if (Integer.parseInt(m.group(1)) > 48 * 1024) problems.add(e.name() + ": static smem " + m.group(1));
            Files.delete(f);
        }
        Files.delete(dir);
        assertEquals(List.of(), problems);
        assertTrue(names.size() >= 30, "catalog lists " + names.size() + " kernels");
    }

    @Test
    void dynamicSharedMemoryFitsTheOptInLimit() {
        for (AttentionKernel.Config c : AttentionKernel.allConfigs())
            assertTrue(c.smemBytes() <= 232_448, c.entry() + " needs " + c.smemBytes() + " B of shared memory");
        for (GemmKernel.Config c : GemmKernel.allConfigs())
            assertTrue(c.dynamicSmem() <= 232_448, c.entry() + " needs " + c.dynamicSmem() + " B of shared memory");
    }

    @Test
    void wgmmaAttentionOnlyForHeadDimsItTiles() {
        for (int d : new int[]{16, 20, 32, 96, 256}) assertEquals(null, AttentionKernel.wgmmaConfig(d, 4224, 30), "head dim " + d);
        AttentionKernel.Config big = AttentionKernel.wgmmaConfig(128, 4224, 30), small = AttentionKernel.wgmmaConfig(128, 1088, 30);
        assertTrue(big.wgmma() && big.decoupled() && big.br() == 192, big.entry());
        assertTrue(small.wgmma() && small.br() == 64, small.entry());
        assertEquals("sm_90a", big.target());
        assertEquals("sm_90", AttentionKernel.config(128, true).target());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> AttentionKernel.Config.wgmma(96, 96, 64, 2, 1, false));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> AttentionKernel.Config.wgmma(128, 128, 72, 2, 1, false));
    }

    @Test
    void wgmmaVariantsAreTheDefaultOnlyForBf16Operands() {
        for (GemmKernel.Epilogue e : new GemmKernel.Epilogue[]{GemmKernel.Epilogue.STORE, GemmKernel.Epilogue.ADD, GemmKernel.Epilogue.SWIGLU}) {
            GemmKernel.Config w = GemmKernel.wgmmaConfig(e);
            assertTrue(w.wgmma() && w.a() == GemmKernel.ASource.BF16 && !w.bF32() && w.epi() == e, w.entry());
            assertEquals("sm_90a", w.target());
            assertEquals("sm_90", GemmKernel.config(GemmKernel.ASource.DENSE, true, GemmKernel.Epilogue.STORE, true).target());
        }
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new GemmKernel.Config(128, 128, 8, 1,
                GemmKernel.ASource.DENSE, false, GemmKernel.Epilogue.STORE, true, 64, 4, true));
    }
}
