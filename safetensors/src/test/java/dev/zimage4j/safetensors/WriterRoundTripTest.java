package dev.zimage4j.safetensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class WriterRoundTripTest {
    @TempDir
    Path dir;

    /** Deterministic bytes for tensor {@code name}. */
    private static byte[] bytesOf(String name, long n) {
        byte[] b = new byte[Math.toIntExact(n)];
        new Random(name.hashCode()).nextBytes(b);
        return b;
    }

    private static SafetensorsWriter everyDType() {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt").metadata("note", "ünïcode ✓");
        int i = 0;
        for (DType t : DType.values()) {
            long[] shape = {3, 1 + i++};
            byte[] b = bytesOf(t.name(), 3L * shape[1] * t.bytes());
            w.add("t." + t.name(), t, shape, sink -> sink.put(b, 0, b.length));
        }
        w.add("scalar", DType.F32, new long[0], sink -> sink.putFloat(2.5f));
        w.add("empty", DType.BF16, new long[]{0, 7}, sink -> { });
        w.add("name \"with\" quotes/and\\slashes ☃", DType.U8, new long[]{2}, sink -> sink.put(new byte[]{1, 2}, 0, 2));
        return w;
    }

    @Test
    void everyDTypeRoundTrips() throws IOException {
        Path f = dir.resolve("all.safetensors");
        everyDType().write(f);
        long headerLength = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8, "header padded to 8 bytes like the reference writer");
        try (Checkpoint c = Safetensors.open(f)) {
            assertEquals(Map.of("format", "pt", "note", "ünïcode ✓"), c.metadata());
            assertEquals(DType.values().length + 3, c.names().size());
            int i = 0;
            for (DType t : DType.values()) {
                TensorView v = c.get("t." + t.name());
                assertEquals(t, v.dtype());
                assertArrayEquals(new long[]{3, 1 + i++}, v.shape());
                assertArrayEquals(bytesOf(t.name(), v.data().byteSize()), v.data().toArray(ValueLayout.JAVA_BYTE), t.name());
            }
            assertEquals(2.5f, c.get("scalar").getFloat(0));
            assertEquals(0, c.get("scalar").shape().length);
            assertEquals(0, c.get("empty").data().byteSize());
            assertEquals(2, c.get("name \"with\" quotes/and\\slashes ☃").data().get(ValueLayout.JAVA_BYTE, 1));
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(f), s.toList(), "no temporary file left behind");
        }
    }

    @Test
    void floatsAreRoundedIntoTheirDType() {
        float[] v = {1f, -0f, 1.00390625f, 3.0e38f, Float.NaN, 0x1p-140f};
        Path f = dir.resolve("f.safetensors");
        SafetensorsWriter w = new SafetensorsWriter();
        for (DType t : new DType[]{DType.F32, DType.F64, DType.BF16, DType.F16, DType.F8_E4M3, DType.F8_E5M2})
            w.addFloats(t.name(), t, new long[]{2, 3}, v);
        w.write(f);
        try (Checkpoint c = Safetensors.open(f)) {
            for (String n : c.names()) {
                TensorView t = c.get(n);
                for (int i = 0; i < v.length; i++) {
                    float want = switch (t.dtype()) {
                        case F32, F64 -> v[i];
                        case BF16 -> FloatConversion.bf16ToFloat(FloatConversion.floatToBf16(v[i]));
                        case F16 -> FloatConversion.f16ToFloat(FloatConversion.floatToF16(v[i]));
                        case F8_E4M3 -> FloatConversion.e4m3ToFloat(FloatConversion.floatToE4m3(v[i]));
                        case F8_E5M2 -> FloatConversion.e5m2ToFloat(FloatConversion.floatToE5m2(v[i]));
                        default -> throw new AssertionError();
                    };
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(t.getFloat(i)), n + "[" + i + "]");
                }
            }
            assertEquals(1f, c.get("BF16").getFloat(2), "1 + 2^-8 is a bf16 tie: rounds to even");
        }
    }

    /** Bulk putFloats across many buffer refills, starting at an odd buffer position, equals element-wise rounding. */
    @Test
    void bulkFloatsAcrossBufferBoundaries() {
        int n = 600_001;
        float[] v = new float[n];
        Random r = new Random(7);
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian() * (i % 3 == 0 ? 1e-3f : 10f);
        SafetensorsWriter w = new SafetensorsWriter().add("odd", DType.U8, new long[]{3}, s -> s.put(new byte[3], 0, 3));
        DType[] types = {DType.F32, DType.BF16, DType.F64, DType.F16, DType.F8_E4M3, DType.F8_E5M2};
        for (DType t : types)
            w.add(t.name(), t, new long[]{n}, s -> {
                for (int off = 0; off < n; off += 70_001) s.putFloats(t, v, off, Math.min(70_001, n - off));
            });
        Path f = dir.resolve("bulk.safetensors");
        w.write(f);
        try (Checkpoint c = Safetensors.open(f)) {
            for (DType t : types) {
                TensorView tv = c.get(t.name());
                for (int i = 0; i < n; i++) {
                    float want = switch (t) {
                        case F32, F64 -> v[i];
                        case BF16 -> FloatConversion.bf16ToFloat(FloatConversion.floatToBf16(v[i]));
                        case F16 -> FloatConversion.f16ToFloat(FloatConversion.floatToF16(v[i]));
                        case F8_E4M3 -> FloatConversion.e4m3ToFloat(FloatConversion.floatToE4m3(v[i]));
                        default -> FloatConversion.e5m2ToFloat(FloatConversion.floatToE5m2(v[i]));
                    };
                    if (Float.floatToIntBits(want) != Float.floatToIntBits(tv.getFloat(i)))
                        fail(t + "[" + i + "]: wrote " + v[i] + ", expected " + want + ", read " + tv.getFloat(i));
                }
            }
        }
    }

    @Test
    void shardedRoundTripsThroughItsIndex() throws IOException {
        SafetensorsWriter w = everyDType();
        Path index = w.writeSharded(dir.resolve("sharded"), "model", 40);
        assertEquals("model.safetensors.index.json", index.getFileName().toString());
        try (Stream<Path> s = Files.list(index.getParent())) {
            List<String> files = s.map(p -> p.getFileName().toString()).sorted().toList();
            assertTrue(files.size() > 3, files.toString());
            assertTrue(files.contains(String.format("model-00001-of-%05d.safetensors", files.size() - 1)), files.toString());
        }
        Path single = dir.resolve("single.safetensors");
        w.write(single);
        try (Checkpoint a = Safetensors.open(single); Checkpoint b = Safetensors.open(index.getParent())) {
            assertEquals(a.names(), b.names());
            for (String n : a.names()) assertEquals(-1, a.get(n).data().mismatch(b.get(n).data()), n);
            assertEquals(String.valueOf(w.dataBytes()), b.metadata().get("total_size"));
            assertEquals("pt", b.metadata().get("format"));
        }
    }

    @Test
    void copiesTensorViewsByteForByte() {
        Path f = dir.resolve("copy.safetensors");
        try (Checkpoint src = Safetensors.open(TinyFixtureTest.tiny().resolve("vae"))) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : src.names()) w.add(src.get(n));
            w.write(f);
            try (Checkpoint copy = Safetensors.open(f)) {
                assertEquals(src.names(), copy.names());
                for (String n : src.names()) {
                    assertArrayEquals(src.get(n).shape(), copy.get(n).shape());
                    assertEquals(-1, src.get(n).data().mismatch(copy.get(n).data()), n);
                }
            }
        }
    }

    @Test
    void sourceWritingTheWrongLengthFailsAndLeavesNothing() throws IOException {
        Path f = dir.resolve("bad.safetensors");
        SafetensorsWriter w = new SafetensorsWriter()
                .add("ok", DType.F32, new long[]{1}, sink -> sink.putFloat(1))
                .add("short", DType.F32, new long[]{2}, sink -> sink.putFloat(1));
        WriteException e = assertThrows(WriteException.class, () -> w.write(f));
        assertTrue(e.getMessage().contains("'short'") && e.getMessage().contains("needs 8 bytes"), e.getMessage());
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(0, s.count(), "neither the file nor its temporary exists");
        }
        assertThrows(IllegalArgumentException.class, () -> w.add("ok", DType.F32, new long[]{1}, sink -> { }));
        assertThrows(IllegalArgumentException.class, () -> w.add("neg", DType.F32, new long[]{-1}, sink -> { }));
        assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", DType.F32, new long[]{1}, sink -> { }));
        assertThrows(ArithmeticException.class, () -> w.add("huge", DType.F64, new long[]{1L << 40, 1L << 30}, sink -> { }));
    }

    /**
     * A sparse file with a tensor past 2 GiB: long offsets all the way from header to slice. The hole costs no
     * disk; nothing but the last page is touched.
     */
    @Test
    void tensorsBeyondTwoGiB() throws IOException {
        long big = (1L << 31) + 24;
        // the file is sparse on every usual file system; should one not be, make sure it still fits
        assumeTrue(Files.getFileStore(dir).getUsableSpace() > 2 * big, "needs room for a 2 GiB file should holes not be sparse");
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + big + "," + (big + 8) + "]}}";
        Path f = Raw.write(dir.resolve("sparse.safetensors"), Raw.file(header, new byte[0]));
        long dataStart = Files.size(f);
        try (FileChannel ch = FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(3.5f).putFloat(-7f).flip(), dataStart + big);
        }
        assertEquals(dataStart + big + 8, Files.size(f));
        try (Checkpoint c = Safetensors.open(f)) {
            assertEquals(big, c.get("big").data().byteSize());
            assertEquals(big, c.get("big").numel());
            TensorView tail = c.get("tail");
            assertEquals(3.5f, tail.getFloat(0));
            assertEquals(-7f, tail.getFloat(1));
            assertEquals(0, c.get("big").data().get(ValueLayout.JAVA_BYTE, big - 1), "hole reads as zero");
            float[] out = new float[2];
            FloatConversion.toFloat(DType.F32, tail.data(), 0, out, 0, 2);
            assertArrayEquals(new float[]{3.5f, -7f}, out);
        } finally {
            Files.delete(f);
        }
    }
}
