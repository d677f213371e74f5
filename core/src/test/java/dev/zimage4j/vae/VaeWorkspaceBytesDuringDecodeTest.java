package dev.zimage4j.vae;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's metrics thread reads {@link Vae#workspaceBytes()} while the worker decodes: the answer must
 * come at once, not after the decode (seconds at real sizes).
 */
class VaeWorkspaceBytesDuringDecodeTest {
    static final Path TINY = TestFixtures.tinyA();

    @Test
    void workspaceBytesDoesNotWaitForARunningDecode() throws Exception {
        CountDownLatch inDecode = new CountDownLatch(1), answered = new CountDownLatch(1);
        AtomicBoolean armed = new AtomicBoolean();
        try (Backend cpu = Backends.cpu()) {
            // once armed, holds the decode in its first GroupNorm until the bytes were read (at most 5 s)
            Backend slow = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class}, (p, m, args) -> {
                if (m.getName().equals("groupNorm") && armed.getAndSet(false)) {
                    inDecode.countDown();
                    answered.await(5, TimeUnit.SECONDS);
                }
                try {
                    return m.invoke(cpu, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            });
            try (Vae vae = Vae.load(TINY.resolve("vae"), slow)) {
                int f = vae.config().downFactor();
                vae.decoder().decode(new float[vae.config().latentChannels() * 4 * 4], 4, 4); // a workspace to count
                armed.set(true);
                CompletableFuture<Void> decode = CompletableFuture.runAsync(
                        () -> vae.decoder().decode(new float[vae.config().latentChannels() * 4 * 4], 4, 4));
                assertTrue(inDecode.await(10, TimeUnit.SECONDS), "decode started");
                long t0 = System.nanoTime();
                long bytes = vae.workspaceBytes();
                double waitedMs = (System.nanoTime() - t0) / 1e6;
                answered.countDown();
                decode.get(30, TimeUnit.SECONDS);
                assertTrue(bytes > 0, "the cached workspace is counted");
                assertTrue(waitedMs < 2000, "workspaceBytes() waited " + waitedMs + " ms for the decode (image " + 4 * f + "²)");
            }
        }
    }
}
