package dev.zimage4j.check;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs a {@link ReferenceStage} over every fixture folder on the CPU backend and asserts every case passes. */
public final class StageAssertions {
    private StageAssertions() {
    }

    /** @return the results (all passing), for extra checks */
    public static List<CaseResult> assertStagePasses(ReferenceStage stage, int minimumCases) throws Exception {
        List<CaseResult> all = new ArrayList<>();
        try (Backend backend = Backends.cpu()) {
            for (Path dir : TestFixtures.folders()) {
                try (Fixtures f = TestFixtures.open(dir)) {
                    for (CaseResult r : stage.run(f, backend)) {
                        System.out.printf("%s %s %s: error %.3g (tolerance %.3g) %s%n", dir.getFileName(), r.stage(), r.name(),
                                r.error(), r.tolerance(), r.detail());
                        assertTrue(r.pass(), dir.getFileName() + " " + r.stage() + " " + r.name() + ": error " + r.error()
                                + " > tolerance " + r.tolerance() + " " + r.detail());
                        all.add(r);
                    }
                }
            }
        }
        assertTrue(all.size() >= minimumCases, stage.name() + ": expected at least " + minimumCases + " cases, ran " + all.size());
        return all;
    }
}
