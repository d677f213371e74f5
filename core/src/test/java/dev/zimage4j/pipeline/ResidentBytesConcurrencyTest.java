package dev.zimage4j.pipeline;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.sampler.FlowMatchSchedule;
import dev.zimage4j.sampler.Guidance;
import dev.zimage4j.sampler.SchedulerConfig;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The engine reads {@link ImageGenerator#residentBytes()} from its metrics and status threads while the
 * worker generates: it must not trip over the DiT workspaces the generation is replacing.
 */
class ResidentBytesConcurrencyTest {
    @Test
    void residentBytesIsSafeWhileDenoisingSwapsWorkspaces() throws Exception {
        try (Backend backend = Backends.cpu(); ZImagePipeline pipe = ZImagePipeline.load(TestFixtures.folders().getFirst(), backend)) {
            ZImagePipeline.Caption caption = pipe.encodePrompt("a fox");
            AtomicBoolean done = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    while (!done.get()) pipe.residentBytes();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            try {
                // three latent sizes in turn: each denoise evicts the oldest of the two kept workspaces and
                // allocates one; the token is already cancelled, so no step runs (only the swapping is exercised)
                CancellationToken cancelled = new CancellationToken();
                cancelled.cancel("workspace swap only");
                int[][] sizes = {{2, 2}, {2, 4}, {4, 2}};
                for (int i = 0; i < 3000 && failure.get() == null; i++) {
                    int lh = sizes[i % 3][0], lw = sizes[i % 3][1];
                    FlowMatchSchedule one = FlowMatchSchedule.create(SchedulerConfig.turbo(), 1, lh * lw / 4);
                    assertThrows(CancelledException.class, () -> pipe.denoise(new float[pipe.latentChannels() * lh * lw], lh, lw,
                            caption, null, one, Guidance.OFF, null, cancelled));
                }
            } finally {
                done.set(true);
                reader.join();
            }
            assertNull(failure.get(), () -> "residentBytes() failed during generation: " + failure.get());
        }
    }
}
