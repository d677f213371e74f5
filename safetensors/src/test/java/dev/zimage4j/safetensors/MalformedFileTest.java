package dev.zimage4j.safetensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** A corpus of malformed files and indexes, generated here, each rejected with its specific exception naming file and tensor. */
class MalformedFileTest {
    @TempDir
    Path dir;

    private static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    private static final String B = "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}";
    private static final String GOOD = "{\"__metadata__\":{\"format\":\"pt\"}," + A + "," + B + "}";
    private static final byte[] DATA = new byte[16];
    private int counter;

    private Path file(byte[] bytes) {
        return Raw.write(dir.resolve("case" + counter++ + ".safetensors"), bytes);
    }

    /** Opening {@code bytes} throws exactly {@code type}, whose message names the file and every {@code mentions}. */
    private <T extends SafetensorsException> T rejects(Class<T> type, byte[] bytes, String... mentions) {
        Path f = file(bytes);
        T e = assertThrows(type, () -> Safetensors.open(f).close());
        assertEquals(type, e.getClass(), "the specific type, not a parent or sibling: " + e.getMessage());
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        for (String m : mentions) assertTrue(e.getMessage().contains(m), "mentions " + m + ": " + e.getMessage());
        return e;
    }

    private <T extends SafetensorsException> T rejects(Class<T> type, String header, String... mentions) {
        return rejects(type, Raw.file(header, DATA), mentions);
    }

    @Test
    void theBaseCaseIsValid() {
        try (Checkpoint c = Safetensors.open(file(Raw.file(GOOD, DATA)))) {
            assertEquals(2, c.names().size());
        }
    }

    @Test
    void headerLength() {
        rejects(HeaderLengthException.class, new byte[0], "too short");
        rejects(HeaderLengthException.class, new byte[7], "too short");
        byte[] h = GOOD.getBytes(StandardCharsets.UTF_8);
        rejects(HeaderLengthException.class, Raw.file(100_000_001L, h, DATA), "cap");
        rejects(HeaderLengthException.class, Raw.file(-1L, h, DATA), "cap");
        rejects(HeaderLengthException.class, Raw.file(h.length + DATA.length + 1, h, DATA), "past the end");
        rejects(HeaderLengthException.class, Arrays.copyOf(Raw.file(GOOD, DATA), 8 + h.length - 1), "past the end");
    }

    @Test
    void truncationsAndTrailingBytes() {
        byte[] full = Raw.file(GOOD, DATA);
        rejects(OffsetsOutOfBoundsException.class, Arrays.copyOf(full, full.length - 1), "'b'", "truncated");
        rejects(OffsetsOutOfBoundsException.class, Arrays.copyOf(full, full.length - 9), "'a'");
        rejects(DataHoleException.class, Arrays.copyOf(full, full.length + 3), "3 unused bytes at the end");
    }

    @Test
    void encodingAndSyntax() {
        byte[] bad = Raw.file(GOOD, DATA);
        bad[8 + GOOD.indexOf("\"a\"") + 1] = (byte) 0xff;
        rejects(HeaderEncodingException.class, bad, "UTF-8");
        byte[] overlong = Raw.file(GOOD, DATA);
        overlong[8 + GOOD.indexOf("\"a\"") + 1] = (byte) 0xc1;
        rejects(HeaderEncodingException.class, overlong, "UTF-8");
        rejects(HeaderJsonException.class, " " + GOOD, "'{'");
        rejects(HeaderJsonException.class, "[" + A.substring(4) + "]", "'{'");
        rejects(HeaderJsonException.class, GOOD.substring(0, GOOD.length() - 1) + " ", "JSON");
        rejects(HeaderJsonException.class, GOOD + "{}", "JSON");
        rejects(HeaderJsonException.class, GOOD.replace("[0,8]", "[0,8,]"), "JSON");
        rejects(HeaderJsonException.class, GOOD.replace("\"F32\"", "'F32'"), "JSON");
        rejects(HeaderJsonException.class, GOOD.replace("\"F32\",", "\"F32\",\"dtype\":\"F32\","), "dtype");
        try (Checkpoint c = Safetensors.open(file(Raw.file(GOOD + "      ", DATA)))) {
            assertEquals(2, c.names().size(), "trailing spaces (the reference writer's padding) are fine");
        }
    }

    @Test
    void fields() {
        rejects(HeaderFieldException.class, GOOD.replace("\"dtype\":\"F32\",", ""), "'a'", "dtype");
        rejects(HeaderFieldException.class, GOOD.replace("\"shape\":[2],", ""), "'a'", "shape");
        rejects(HeaderFieldException.class, GOOD.replace(",\"data_offsets\":[8,16]", ""), "'b'", "data_offsets");
        rejects(HeaderFieldException.class, GOOD.replace("\"F32\"", "32"), "'a'", "dtype");
        rejects(HeaderFieldException.class, GOOD.replace("[2],", "2,"), "'a'", "shape");
        rejects(HeaderFieldException.class, GOOD.replace("[0,8]", "[0]"), "'a'", "data_offsets");
        rejects(HeaderFieldException.class, GOOD.replace("[0,8]", "[0,8,8]"), "'a'", "data_offsets");
        rejects(HeaderFieldException.class, GOOD.replace("[0,8]", "[0,\"8\"]"), "'a'", "data_offsets");
        rejects(HeaderFieldException.class, GOOD.replace("[0,8]", "[0,8.0]"), "'a'", "data_offsets");
        rejects(HeaderFieldException.class, GOOD.replace(A, "\"a\":[1,2]"), "'a'", "not a JSON object");
        rejects(HeaderFieldException.class, GOOD.replace("\"pt\"", "1"), "__metadata__", "format");
        rejects(HeaderFieldException.class, GOOD.replace("{\"format\":\"pt\"}", "\"pt\""), "__metadata__");
    }

    @Test
    void dtypesAndShapes() {
        rejects(UnknownDTypeException.class, GOOD.replace("\"F32\"", "\"F4\""), "'a'", "'F4'");
        rejects(UnknownDTypeException.class, GOOD.replace("\"F32\"", "\"f32\""), "'a'", "'f32'");
        rejects(InvalidShapeException.class, GOOD.replace("[2,2]", "[-2,-2]"), "'b'", "negative");
        rejects(InvalidShapeException.class, GOOD.replace("[2,2]", "[2,2.0]"), "'b'", "not an integer");
        rejects(InvalidShapeException.class, GOOD.replace("[2,2]", "[4294967296,4294967296]"), "'b'", "long");
        rejects(InvalidShapeException.class, GOOD.replace("[2,2]", "[99999999999999999999999]"), "'b'", "too large");
        rejects(InvalidShapeException.class, GOOD.replace("[2,2]", "[4611686018427387904]"), "'b'", "overflows");
        rejects(TensorSizeException.class, GOOD.replace("[2,2]", "[2,3]"), "'b'", "needs 12 bytes", "span 8");
        rejects(TensorSizeException.class, GOOD.replace("[2,2]", "[]"), "'b'");
        rejects(TensorSizeException.class, GOOD.replace("\"BF16\"", "\"F32\""), "'b'");
    }

    @Test
    void offsets() {
        rejects(OffsetsOutOfBoundsException.class, GOOD.replace("[0,8]", "[8,0]"), "'a'", "end before they begin");
        rejects(OffsetsOutOfBoundsException.class, GOOD.replace("[0,8]", "[-8,0]"), "'a'", "out of range");
        rejects(OffsetsOutOfBoundsException.class, GOOD.replace("[8,16]", "[16,24]"), "'b'", "past the data section");
        rejects(OffsetsOutOfBoundsException.class, GOOD.replace("[8,16]", "[9223372036854775800,9223372036854775808]"), "'b'");
        rejects(OverlappingTensorsException.class, GOOD.replace("[8,16]", "[4,12]"), "'b'", "'a'", "overlaps");
        rejects(OverlappingTensorsException.class, GOOD.replace("[8,16]", "[0,8]").replace("[2,2]", "[2,2]"), "overlaps");
        rejects(DataHoleException.class, GOOD.replace("[0,8]", "[1,9]").replace("[8,16]", "[9,17]"), "before tensor 'a'");
        String hole = "{" + A + ",\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[12,16]}}";
        rejects(DataHoleException.class, hole, "4 unused bytes", "'b'");
        String empty = "{" + A + ",\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}," + B + "}";
        rejects(OverlappingTensorsException.class, empty, "'z'");
    }

    @Test
    void duplicateNames() {
        rejects(DuplicateTensorException.class, "{" + A + "," + A.replace("[0,8]", "[8,16]") + "}", "'a'");
    }

    @Test
    void directories() throws IOException {
        Path missing = dir.resolve("nope");
        assertThrows(CheckpointLayoutException.class, () -> Safetensors.open(missing));
        Path empty = Files.createDirectory(dir.resolve("empty"));
        CheckpointLayoutException e = assertThrows(CheckpointLayoutException.class, () -> Safetensors.open(empty));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        Path two = Files.createDirectory(dir.resolve("two"));
        Raw.write(two.resolve("x.safetensors"), Raw.file(GOOD, DATA));
        Raw.write(two.resolve("y.safetensors"), Raw.file(GOOD, DATA));
        e = assertThrows(CheckpointLayoutException.class, () -> Safetensors.open(two));
        assertTrue(e.getMessage().contains("x.safetensors") && e.getMessage().contains("y.safetensors"), e.getMessage());
    }

    // ---- sharded indexes ----

    private Path shardedDir() {
        Path d = dir.resolve("sharded" + counter++);
        return new SafetensorsWriter()
                .add("a", DType.F32, new long[]{2}, s -> s.put(new byte[8], 0, 8))
                .add("b", DType.F32, new long[]{2}, s -> s.put(new byte[8], 0, 8))
                .writeSharded(d, "model", 8).getParent();
    }

    private Path index(Path d, String json) throws IOException {
        return Files.writeString(d.resolve("model.safetensors.index.json"), json);
    }

    private <T extends SafetensorsException> void indexRejects(Class<T> type, Path index, String... mentions) {
        T e = assertThrows(type, () -> Safetensors.open(index).close());
        assertEquals(type, e.getClass(), e.getMessage());
        assertTrue(e.getMessage().contains(index.toString()), "names the index: " + e.getMessage());
        for (String m : mentions) assertTrue(e.getMessage().contains(m), "mentions " + m + ": " + e.getMessage());
    }

    @Test
    void indexes() throws IOException {
        Path d = shardedDir();
        try (Checkpoint c = Safetensors.open(d)) {
            assertEquals(2, c.names().size());
        }
        String s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors";
        indexRejects(InvalidIndexException.class, index(d, "{\"weight_map\":"));
        indexRejects(InvalidIndexException.class, index(d, "[]"));
        indexRejects(InvalidIndexException.class, index(d, "{\"metadata\":{}}"), "weight_map");
        indexRejects(InvalidIndexException.class, index(d, "{\"weight_map\":{\"a\":1}}"), "'a'");
        indexRejects(InvalidIndexException.class, index(d, "{\"weight_map\":{\"a\":\"../x.safetensors\"}}"), "'a'", "not a file inside");
        indexRejects(InvalidIndexException.class, index(d, "{\"weight_map\":{\"a\":\"" + s1 + "\",\"a\":\"" + s1 + "\"}}"), "Duplicate");
        indexRejects(MissingShardException.class, index(d, "{\"weight_map\":{\"a\":\"" + s1 + "\",\"b\":\"gone.safetensors\"}}"),
                "'b'", "gone.safetensors");
        indexRejects(MissingTensorException.class, index(d, "{\"weight_map\":{\"a\":\"" + s2 + "\",\"b\":\"" + s2 + "\"}}"),
                "'a'", s2);
        Files.copy(d.resolve(s1), d.resolve("copy.safetensors"));
        indexRejects(DuplicateTensorException.class,
                index(d, "{\"weight_map\":{\"a\":\"" + s1 + "\",\"b\":\"" + s2 + "\",\"c\":\"copy.safetensors\"}}"), "'a'");
        // a broken shard is reported with the shard's own name
        Files.write(d.resolve(s2), new byte[3]);
        HeaderLengthException e = assertThrows(HeaderLengthException.class,
                () -> Safetensors.open(index(d, "{\"weight_map\":{\"a\":\"" + s1 + "\",\"b\":\"" + s2 + "\"}}")));
        assertTrue(e.getMessage().contains(s2), e.getMessage());
    }
}
