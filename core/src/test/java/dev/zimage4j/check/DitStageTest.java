package dev.zimage4j.check;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.safetensors.Safetensors;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.*;

class DitStageTest {
    static final Path TINY = TestFixtures.tinyA();

    @Test
    void registeredAsAService() {
        assertTrue(ServiceLoader.load(ReferenceStage.class).stream().anyMatch(p -> p.get().name().equals("dit")));
    }

    @Test
    void everyCasePassesFromBothLayouts() throws Exception {
        try (Backend backend = Backends.cpu();
             Fixtures f = new Fixtures(TINY, new ObjectMapper().readTree(TINY.resolve("cases.json").toFile()),
                     Safetensors.open(TINY.resolve("expected.safetensors")))) {
            List<CaseResult> results = new DitStage().run(f, backend);
            int cases = f.cases().get("dit_cases").size();
            assertEquals(2 * cases, results.size());
            for (CaseResult r : results) {
                assertEquals("dit", r.stage());
                assertTrue(r.pass(), r.name() + ": " + r.error() + " " + r.detail());
            }
            assertTrue(results.stream().anyMatch(r -> r.name().startsWith("single_file:")));
        }
    }
}
