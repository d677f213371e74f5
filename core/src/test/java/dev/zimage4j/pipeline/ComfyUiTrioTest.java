package dev.zimage4j.pipeline;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ComfyUI layout: three loose files (single-file DiT, text encoder, VAE) in any order, each with its
 * {@code config.json} alongside, generate exactly what the diffusers directory generates.
 */
class ComfyUiTrioTest {
    static final Path MODEL = TestFixtures.tinyA();

    private static Path place(Path tmp, String folder, Path file, Path config) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(folder));
        Path link = dir.resolve(file.getFileName());
        Files.createSymbolicLink(link, file.toAbsolutePath());
        Files.copy(config, dir.resolve("config.json"));
        return link;
    }

    @Test
    void threeFilesInAnyOrderMatchTheDiffusersDirectory(@TempDir Path tmp) throws Exception {
        Path dit;
        try (var s = Files.list(MODEL.resolve("single_file"))) {
            dit = place(tmp, "diffusion_models", s.filter(p -> p.toString().endsWith(".safetensors")).findFirst().orElseThrow(),
                    MODEL.resolve("transformer/config.json"));
        }
        Path text = place(tmp, "text_encoders", MODEL.resolve("text_encoder/model.safetensors"), MODEL.resolve("text_encoder/config.json"));
        Path vae = place(tmp, "vae", MODEL.resolve("vae/diffusion_pytorch_model.safetensors"), MODEL.resolve("vae/config.json"));

        ModelFiles files = ModelFiles.resolve(List.of(vae, dit, text));
        assertEquals(dit, files.transformer());
        assertEquals(text, files.textEncoder());
        assertEquals(vae, files.vae());

        GenerationRequest r = new GenerationRequest("a lighthouse at dusk", "", 32, 32, 2, 0, 4, 1, null, 0.6);
        try (Backend b = Backends.cpu();
             ZImagePipeline trio = ZImagePipeline.load(files, b, PipelineOptions.DEFAULT);
             ZImagePipeline dir = ZImagePipeline.load(MODEL, b)) {
            Images.assertSameImage(dir.generate(r, null, null).getFirst().rgb(), trio.generate(r, null, null).getFirst().rgb(), "trio vs directory");
        }
    }

    @Test
    void incompleteOrDuplicateTriosAreNamed() {
        Path text = MODEL.resolve("text_encoder/model.safetensors"), vae = MODEL.resolve("vae/diffusion_pytorch_model.safetensors");
        var e = assertThrows(ModelLoadException.class, () -> ModelFiles.resolve(List.of(text, vae)));
        assertTrue(e.getMessage().contains("missing: the DiT"), e.getMessage());
        e = assertThrows(ModelLoadException.class, () -> ModelFiles.resolve(List.of(text, vae, text)));
        assertTrue(e.getMessage().contains("two text-encoder files"), e.getMessage());
        e = assertThrows(ModelLoadException.class, () -> ModelFiles.resolve(List.of(MODEL.resolve("expected.safetensors"), text, vae)));
        assertTrue(e.getMessage().contains("neither"), e.getMessage());
    }
}
