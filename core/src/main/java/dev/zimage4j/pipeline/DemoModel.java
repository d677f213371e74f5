package dev.zimage4j.pipeline;

import dev.zimage4j.modelgen.ModelPreset;
import dev.zimage4j.modelgen.RandomModelWriter;
import dev.zimage4j.safetensors.DType;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The built-in demo model: the {@code tiny} preset of {@code make-random-model} (deterministic random weights,
 * fixture-sized, a few MB), written once into the user's cache and reused. It exercises the whole pipeline
 * but its images are noise: real images need real weights ({@code --model}).
 *
 * <p>Cache location: {@code -Dzimage.cache.dir}, else {@code $XDG_CACHE_HOME/zimage4j}, else
 * {@code ~/.cache/zimage4j}; the model lives in {@code demo-tiny/} there.
 */
public final class DemoModel {
    /** Seed of the demo weights; changing it changes every demo image. */
    public static final long SEED = 20251126L;
    /** The model id the demo reports. */
    public static final String ID = "demo-tiny";
    private static final String COMPLETE = ".complete";

    private DemoModel() {
    }

    /** The zimage4j cache directory (not created). */
    public static Path cacheRoot() {
        String prop = System.getProperty("zimage.cache.dir");
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "zimage4j");
        return Path.of(System.getProperty("user.home"), ".cache", "zimage4j");
    }

    /**
     * The demo model directory, writing it first if absent (into a temporary sibling, then moved into place,
     * so a half-written model is never used and concurrent first runs do not clash).
     *
     * @param log told what happens ("writing the demo model …") when it is written
     */
    public static Path ensure(Consumer<String> log) throws IOException {
        Path dir = cacheRoot().resolve(ID);
        if (Files.isRegularFile(dir.resolve(COMPLETE))) return dir;
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), ID + ".tmp-");
        try {
            log.accept("writing the built-in demo model (tiny random weights, seed " + SEED + ") to " + dir);
            RandomModelWriter.write(ModelPreset.TINY, tmp, DType.BF16, RandomModelWriter.DitLayout.DIFFUSERS, SEED, s -> { });
            Files.writeString(tmp.resolve(COMPLETE), "tiny preset, seed " + SEED + "\n");
            if (Files.exists(dir) && !Files.isRegularFile(dir.resolve(COMPLETE))) deleteTree(dir); // an interrupted older attempt
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
                if (!Files.isRegularFile(dir.resolve(COMPLETE))) throw e; // otherwise another process won the race
            } catch (IOException e) {
                if (!Files.isRegularFile(dir.resolve(COMPLETE))) throw e;
            }
        } finally {
            if (Files.exists(tmp)) deleteTree(tmp);
        }
        return dir;
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(x);
        }
    }
}
