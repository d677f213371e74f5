package dev.zimage4j.dit;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.check.AllocFailingBackend;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * An allocation failing part-way through a DiT workspace (device out of memory on a large image) frees
 * what was already allocated: the resident server lives on after such a request.
 */
class DitWorkspaceAllocFailureTest {
    static final Path TINY = TestFixtures.tinyA();

    @Test
    void aFailedAllocationReleasesTheTensorsAlreadyAllocated() throws Exception {
        try (Backend cpu = Backends.cpu()) {
            AllocFailingBackend counting = new AllocFailingBackend(cpu);
            try (ZImageTransformer dit = ZImageTransformer.load(TINY.resolve("transformer"), counting.backend())) {
                dit.allocate(4, 4, 8).close();
                assertEquals(0, counting.liveTensors(), "a closed workspace holds nothing");
                counting.failAfter(10);
                var e = assertThrows(IllegalStateException.class, () -> dit.allocate(4, 4, 8));
                assertEquals(AllocFailingBackend.MESSAGE, e.getMessage());
                assertEquals(0, counting.liveTensors(), "tensors left allocated after the failed workspace allocation");
            }
        }
    }
}
