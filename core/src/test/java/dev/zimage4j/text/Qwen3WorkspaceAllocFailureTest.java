package dev.zimage4j.text;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.check.AllocFailingBackend;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** An allocation failing part-way through the text encoder's buffers frees those already allocated. */
class Qwen3WorkspaceAllocFailureTest {
    static final Path TINY = TestFixtures.tinyA();

    @Test
    void aFailedAllocationReleasesTheBuffersAlreadyAllocated() throws Exception {
        try (Backend cpu = Backends.cpu()) {
            AllocFailingBackend counting = new AllocFailingBackend(cpu);
            try (Qwen3TextEncoder encoder = Qwen3TextEncoder.load(TINY.resolve("text_encoder"), counting.backend())) {
                counting.failAfter(4);
                var e = assertThrows(IllegalStateException.class, () -> encoder.reserve(64));
                assertEquals(AllocFailingBackend.MESSAGE, e.getMessage());
                assertEquals(0, counting.liveTensors(), "buffers left allocated after the failed allocation");
                counting.failAfter(Integer.MAX_VALUE);
                encoder.reserve(64); // and the encoder still works afterwards
            }
            assertEquals(0, counting.liveTensors(), "buffers left allocated after close");
        }
    }
}
