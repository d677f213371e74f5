package dev.zimage4j.check;

import org.junit.jupiter.api.Test;

import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The scheduler and rng stages pass on every fixture folder and are discoverable by check-reference. */
class SamplerStagesTest {
    @Test
    void schedulerTables() throws Exception {
        StageAssertions.assertStagePasses(new SchedulerStage(), 24);
    }

    @Test
    void rngBitExact() throws Exception {
        StageAssertions.assertStagePasses(new RngStage(), 5);
    }

    @Test
    void stagesAreRegistered() {
        Set<String> names = ServiceLoader.load(ReferenceStage.class).stream().map(p -> p.get().name()).collect(Collectors.toSet());
        assertTrue(names.containsAll(Set.of("scheduler", "rng", "vae")), names.toString());
    }
}
