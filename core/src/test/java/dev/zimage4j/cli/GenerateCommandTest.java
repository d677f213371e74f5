package dev.zimage4j.cli;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.png.PngImage;
import dev.zimage4j.png.PngReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code zimage generate} end to end on the fixture model: PNG files whose metadata reads back. */
class GenerateCommandTest {
    static final Path MODEL = TestFixtures.tinyA();

    record Run(int status, String out, String err) {
    }

    static Run zimage(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void writesPngsWithMetadataThenImg2ImgFromOne(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("fox.png");
        Run r = zimage("generate", "-p", "a red fox 🦊 in the snow", "--model", MODEL.toString(), "--seed", "5", "--steps", "2",
                "--width", "32", "--height", "48", "--count", "2", "-o", out.toString(), "--backend", "cpu");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains("step 2/2"), "plain progress lines when not on a terminal: " + r.err());
        assertTrue(r.out().contains("denoise") && r.out().contains("vae") && r.out().contains("load"), "timing summary: " + r.out());
        for (int i = 1; i <= 2; i++) {
            PngImage png = PngReader.read(tmp.resolve("fox-" + i + ".png"));
            assertEquals(32, png.width());
            assertEquals(48, png.height());
            assertEquals("a red fox 🦊 in the snow", png.text().get("prompt"));
            assertEquals(Long.toString(4 + i), png.text().get("seed"));
            assertEquals("2", png.text().get("steps"));
            assertEquals("0.0", png.text().get("guidance"));
            assertEquals("32x48", png.text().get("size"));
            assertEquals("tiny-a", png.text().get("model"));
            assertTrue(png.text().get("Software").startsWith("zimage4j "));
        }

        Path edited = tmp.resolve("edited.png");
        r = zimage("generate", "-p", "a fox at night", "--model", MODEL.toString(), "--seed", "9", "--steps", "4", "--image",
                tmp.resolve("fox-1.png").toString(), "--strength", "0.5", "--guidance", "2", "--negative", "blurry", "-o", edited.toString());
        assertEquals(0, r.status(), r.err());
        PngImage png = PngReader.read(edited);
        assertEquals(32, png.width(), "the size comes from --image");
        assertEquals("0.5", png.text().get("strength"));
        assertEquals("blurry", png.text().get("negative_prompt"));
        assertTrue(r.err().contains("step 2/2"), "strength 0.5 of 4 steps runs 2: " + r.err());
    }

    @Test
    void badArgumentsExplainThemselves(@TempDir Path tmp) {
        Run r = zimage("generate", "--model", MODEL.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("prompt is required"), r.err());
        r = zimage("generate", "-p", "x", "--model", MODEL.toString(), "--width", "40", "-o", tmp.resolve("x.png").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("width must be a multiple of 16"), r.err());
        r = zimage("generate", "-p", "x", "--model", tmp.toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("model_index.json"), r.err());
        r = zimage("generate", "-p", "x", "--strength", "0.3", "--model", MODEL.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("--strength needs --image"), r.err());
        assertTrue(Files.notExists(tmp.resolve("x.png")));
    }

    @Test
    void withoutModelUsesTheDemoModelAndSaysSo(@TempDir Path tmp) throws Exception {
        String old = System.getProperty("zimage.cache.dir");
        System.setProperty("zimage.cache.dir", tmp.resolve("cache").toString());
        try {
            Path out = tmp.resolve("demo.png");
            Run r = zimage("generate", "-p", "anything", "--seed", "1", "--steps", "1", "--width", "32", "--height", "32", "-o", out.toString());
            assertEquals(0, r.status(), r.err());
            assertTrue(r.err().contains("built-in demo model"), r.err());
            assertTrue(Files.isRegularFile(tmp.resolve("cache/demo-tiny/model_index.json")));
            assertEquals("demo-tiny", PngReader.read(out).text().get("model"));
            // second run reuses the cache (does not write it again)
            r = zimage("generate", "-p", "anything", "--seed", "1", "--steps", "1", "--width", "32", "--height", "32", "-o", out.toString());
            assertEquals(0, r.status(), r.err());
            assertTrue(!r.err().contains("writing the built-in demo model"), r.err());
        } finally {
            if (old == null) System.clearProperty("zimage.cache.dir");
            else System.setProperty("zimage.cache.dir", old);
        }
    }
}
