package dev.zimage4j.engine;

import dev.zimage4j.modelgen.ModelPreset;
import dev.zimage4j.modelgen.RandomModelWriter;
import dev.zimage4j.safetensors.DType;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The built-in demo model {@code zimage serve} runs when no model is configured: the tiny random-weight
 * Z-Image of {@code zimage make-random-model --preset tiny} (seed 0), written once into
 * {@code ZIMAGE_HOME/demo-model}. It exercises every code path of the real model in seconds; its images
 * are noise-like, since its weights are random.
 */
public final class DemoModel {
    /** The model id the demo model is served as (its directory name). */
    public static final String ID = "demo-model";

    private DemoModel() {
    }

    /** The demo model's directory, writing it first (to a temporary directory, then renamed) if it does not exist. */
    public static Path directory() throws IOException {
        Path dir = EngineConfig.home().resolve(ID);
        if (Files.isRegularFile(dir.resolve("model_index.json"))) return dir;
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), ".demo-model-");
        Log.info("writing the built-in demo model (tiny, random weights) to " + dir);
        RandomModelWriter.write(ModelPreset.TINY, tmp, DType.BF16, RandomModelWriter.DitLayout.DIFFUSERS, 0, line -> { });
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
            // another process wrote it first: use theirs
            deleteTree(tmp);
        }
        return dir;
    }

    private static void deleteTree(Path p) throws IOException {
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
