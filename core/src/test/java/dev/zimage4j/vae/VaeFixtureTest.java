package dev.zimage4j.vae;

import dev.zimage4j.check.StageAssertions;
import dev.zimage4j.check.VaeStage;
import org.junit.jupiter.api.Test;

/** {@code vae.decode.*} and {@code vae.encode.*} of every fixture folder within 1e-4. */
class VaeFixtureTest {
    @Test
    void decodeAndEncodeMatchDiffusers() throws Exception {
        StageAssertions.assertStagePasses(new VaeStage(), 3);
    }
}
