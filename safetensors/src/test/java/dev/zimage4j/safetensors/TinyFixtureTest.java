package dev.zimage4j.safetensors;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every tensor of testdata/tiny-a, in the diffusers layout and the single-file layout, read and checked against
 * a manifest that numpy computed from the raw bytes (src/test/python/tiny_a_manifest.py).
 */
class TinyFixtureTest {
    static Path tiny() {
        return Path.of(System.getProperty("zimage.root", "..")).resolve("testdata/tiny-a");
    }

    /** One manifest row. */
    record Row(String file, String name, DType dtype, long[] shape, long crc, int first, int middle, int last,
               double sum, double sumAbs) {
    }

    static Map<String, List<Row>> manifest() throws IOException {
        try (InputStream in = TinyFixtureTest.class.getResourceAsStream("/tiny-a-manifest.tsv")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.startsWith("#") && !l.isBlank())
                    .map(l -> l.split("\t", -1))
                    .map(c -> new Row(c[0], c[1], DType.fromHeader(c[2]),
                            c[3].isEmpty() ? new long[0] : Arrays.stream(c[3].split(",")).mapToLong(Long::parseLong).toArray(),
                            Long.parseLong(c[4], 16), Integer.parseUnsignedInt(c[5], 16), Integer.parseUnsignedInt(c[6], 16),
                            Integer.parseUnsignedInt(c[7], 16), Double.parseDouble(c[8]), Double.parseDouble(c[9])))
                    .collect(Collectors.groupingBy(Row::file, LinkedHashMap::new, Collectors.toList()));
        }
    }

    @Test
    void everyTensorMatchesTheIndependentManifest() throws IOException {
        Map<String, List<Row>> manifest = manifest();
        assertEquals(5, manifest.size(), "manifest covers the five .safetensors files of tiny-a");
        int checked = 0;
        for (Map.Entry<String, List<Row>> file : manifest.entrySet()) {
            try (Checkpoint c = Safetensors.open(tiny().resolve(file.getKey()))) {
                assertEquals(file.getValue().stream().map(Row::name).collect(Collectors.toCollection(TreeSet::new)), c.names(),
                        file.getKey() + ": tensor names");
                for (Row r : file.getValue()) {
                    TensorView t = c.get(r.name());
                    String what = file.getKey() + " " + r.name();
                    assertEquals(r.dtype(), t.dtype(), what);
                    assertArrayEquals(r.shape(), t.shape(), what);
                    assertEquals(t.numel() * t.dtype().bytes(), t.data().byteSize(), what);
                    CRC32 crc = new CRC32();
                    crc.update(t.data().asByteBuffer());
                    assertEquals(r.crc(), crc.getValue(), what + ": crc32 of the data bytes");
                    long n = t.numel();
                    assertEquals(r.first(), Float.floatToRawIntBits(t.getFloat(0)), what + ": first");
                    assertEquals(r.middle(), Float.floatToRawIntBits(t.getFloat(n / 2)), what + ": middle");
                    assertEquals(r.last(), Float.floatToRawIntBits(t.getFloat(n - 1)), what + ": last");
                    float[] all = new float[Math.toIntExact(n)];
                    FloatConversion.toFloat(t.dtype(), t.data(), 0, all, 0, all.length);
                    double sum = 0, sumAbs = 0;
                    for (float v : all) {
                        sum += v;
                        sumAbs += Math.abs(v);
                    }
                    assertEquals(r.sumAbs(), sumAbs, 1e-9 * r.sumAbs(), what + ": sum |x| (bulk conversion)");
                    assertEquals(r.sum(), sum, 1e-9 * r.sumAbs(), what + ": sum x (bulk conversion)");
                    checked++;
                }
            }
        }
        assertEquals(manifest.values().stream().mapToInt(List::size).sum(), checked);
    }

    @Test
    void componentDirectoriesOpenTheirSingleFile() {
        for (String dir : List.of("transformer", "text_encoder", "vae", "single_file")) {
            try (Checkpoint c = Safetensors.open(tiny().resolve(dir))) {
                assertFalse(c.names().isEmpty(), dir);
                assertTrue(c.source().contains(dir), c.source());
            }
        }
        try (Checkpoint c = Safetensors.open(tiny().resolve("transformer"))) {
            assertEquals(Map.of("format", "pt"), c.metadata(), "__metadata__ exposed");
        }
    }

    /** The single-file layout holds the same bytes: same-named tensors identical, fused qkv = to_q ‖ to_k ‖ to_v. */
    @Test
    void singleFileLayoutHoldsTheSameWeights() {
        String prefix = "model.diffusion_model.";
        try (Checkpoint single = Safetensors.open(tiny().resolve("single_file"));
             Checkpoint diffusers = Safetensors.open(tiny().resolve("transformer"))) {
            int same = 0, fused = 0;
            for (String name : single.names()) {
                assertTrue(name.startsWith(prefix), name);
                String local = name.substring(prefix.length());
                TensorView s = single.get(name);
                if (diffusers.find(local).isPresent()) {
                    assertBytesEqual(diffusers.get(local), s);
                    same++;
                } else if (local.endsWith(".attention.qkv.weight")) {
                    String base = local.substring(0, local.length() - "qkv.weight".length());
                    long rows = s.shape()[0] / 3;
                    assertBytesEqual(diffusers.get(base + "to_q.weight"), s.sliceRows("q", 0, rows));
                    assertBytesEqual(diffusers.get(base + "to_k.weight"), s.sliceRows("k", rows, rows));
                    assertBytesEqual(diffusers.get(base + "to_v.weight"), s.sliceRows("v", 2 * rows, rows));
                    fused++;
                }
            }
            assertTrue(same > 10 && fused > 0, "compared " + same + " same-named and " + fused + " fused tensors");
        }
    }

    private static void assertBytesEqual(TensorView expected, TensorView actual) {
        assertEquals(expected.dtype(), actual.dtype(), actual.name());
        assertEquals(expected.numel(), actual.numel(), actual.name());
        assertEquals(-1, expected.data().mismatch(actual.data()), actual.name() + " differs from " + expected.name());
        assertEquals(expected.data().get(ValueLayout.JAVA_BYTE, 0), actual.data().get(ValueLayout.JAVA_BYTE, 0));
    }
}
