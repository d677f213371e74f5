package dev.zimage4j.vae;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.pipeline.ModelFiles;
import dev.zimage4j.pipeline.ModelLoadException;
import dev.zimage4j.pipeline.PipelineOptions;
import dev.zimage4j.pipeline.ZImagePipeline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A VAE whose config.json is rejected leaves its weights file unmapped (the checkpoint is not leaked). */
class VaeLoadLeakTest {
    static final Path TINY = TestFixtures.tinyA();
    static final String BAD_CONFIG = "{\"act_fn\": \"relu\", \"block_out_channels\": [32, 32]}";

    @TempDir
    Path dir;

    private static long mappingsOf(Path file) throws IOException {
        String real = file.toRealPath().toString();
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.endsWith(real)).count();
        }
    }

    /** A copy of tiny-a's vae/ folder with an unsupported config.json; returns its weights file. */
    private Path vaeWithBadConfig(Path vaeDir) throws IOException {
        Files.createDirectories(vaeDir);
        Path weights = Files.copy(TINY.resolve("vae/diffusion_pytorch_model.safetensors"), vaeDir.resolve("diffusion_pytorch_model.safetensors"));
        Files.writeString(vaeDir.resolve("config.json"), BAD_CONFIG);
        return weights;
    }

    @Test
    void vaeLoadClosesTheCheckpointWhenTheConfigIsRejected() throws IOException {
        assumeTrue(Files.isRegularFile(Path.of("/proc/self/maps")), "needs Linux /proc");
        Path weights = vaeWithBadConfig(dir.resolve("vae"));
        try (Backend backend = Backends.cpu()) {
            assertThrows(VaeCheckpointException.class, () -> Vae.load(dir.resolve("vae"), backend));
        }
        assertEquals(0, mappingsOf(weights), "the VAE weights are still mapped after a failed load");
    }

    @Test
    void pipelineLoadClosesTheVaeCheckpointWhenItsConfigIsRejected() throws IOException {
        assumeTrue(Files.isRegularFile(Path.of("/proc/self/maps")), "needs Linux /proc");
        Path model = dir.resolve("model");
        for (String part : List.of("model_index.json", "scheduler", "text_encoder", "transformer")) copy(TINY.resolve(part), model.resolve(part));
        Path weights = vaeWithBadConfig(model.resolve("vae"));
        try (Backend backend = Backends.cpu()) {
            assertThrows(ModelLoadException.class,
                    () -> ZImagePipeline.load(ModelFiles.resolve(List.of(model)), backend, PipelineOptions.DEFAULT));
        }
        assertEquals(0, mappingsOf(weights), "the VAE weights are still mapped after a failed pipeline load");
    }

    private static void copy(Path from, Path to) throws IOException {
        if (Files.isDirectory(from)) {
            Files.createDirectories(to);
            try (Stream<Path> s = Files.list(from)) {
                for (Path p : s.toList()) copy(p, to.resolve(p.getFileName()));
            }
        } else {
            Files.createDirectories(to.getParent());
            Files.copy(from, to);
        }
    }
}
