package dev.zimage4j.safetensors;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class TinyFixtureSmokeTest {
    static Path tiny() {
        return Path.of(System.getProperty("zimage.root", "..")).resolve("testdata/tiny-a");
    }

    @Test
    void opensEveryComponent() {
        for (String d : new String[]{"transformer", "text_encoder", "vae", "single_file", "expected.safetensors"}) {
            try (Checkpoint c = Safetensors.open(tiny().resolve(d))) {
                assertFalse(c.names().isEmpty(), d);
                for (String n : c.names()) {
                    TensorView t = c.get(n);
                    assertEquals(t.numel() * t.dtype().bytes(), t.data().byteSize(), n);
                }
            }
        }
    }
}
