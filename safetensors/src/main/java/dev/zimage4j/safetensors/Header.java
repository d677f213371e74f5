package dev.zimage4j.safetensors;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed, validated JSON header of one {@code .safetensors} file: tensor entries in file order and the
 * {@code __metadata__} map. Validation follows the reference implementation: a JSON object whose keys are
 * tensor names (plus optional {@code __metadata__}), each with {@code dtype}, {@code shape} and
 * {@code data_offsets}; the byte ranges must tile the data section exactly, without overlaps or holes.
 *
 * @param tensors  entries sorted by their begin offset
 * @param metadata the {@code __metadata__} map (empty if absent)
 */
record Header(List<Entry> tensors, Map<String, String> metadata) {

    /** Reference implementation's cap on the header length. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    /**
     * One tensor as the header describes it.
     *
     * @param begin offset of the first byte, relative to the start of the data section
     * @param end   offset one past the last byte, relative to the start of the data section
     */
    record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        long byteLength() {
            return end - begin;
        }
    }

    static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /**
     * Parses and validates a header.
     *
     * @param file       the file's name, for messages
     * @param json       the header bytes (after the 8-byte length)
     * @param dataLength bytes in the file after the header: the byte ranges must tile exactly this
     */
    static Header parse(String file, byte[] json, long dataLength) {
        String text = decodeUtf8(file, json);
        if (text.isEmpty() || text.charAt(0) != '{')
            throw new HeaderJsonException(file + ": header does not start with '{' (not a safetensors file?)");
        JsonNode root = readJson(file, text);
        if (!root.isObject()) throw new HeaderJsonException(file + ": header is not a JSON object");

        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>(root.size());
        for (Map.Entry<String, JsonNode> f : root.properties()) {
            if (f.getKey().equals("__metadata__")) metadata = metadata(file, f.getValue());
            else entries.add(entry(file, f.getKey(), f.getValue()));
        }
        entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        checkTiling(file, entries, dataLength);
        return new Header(List.copyOf(entries), metadata);
    }

    static String decodeUtf8(String file, byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new HeaderEncodingException(file + ": header is not valid UTF-8 (" + e.getMessage() + ")");
        }
    }

    private static JsonNode readJson(String file, String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonParseException e) {
            String msg = e.getOriginalMessage();
            if (msg != null && msg.startsWith("Duplicate field") && e.getProcessor() instanceof JsonParser p
                    && p.getParsingContext() != null && p.getParsingContext().getParent() != null
                    && p.getParsingContext().getParent().inRoot())
                throw new DuplicateTensorException(file + ": " + msg.replace("Duplicate field", "duplicate tensor name"));
            throw new HeaderJsonException(file + ": header is not valid JSON: " + describe(e), e);
        } catch (JsonProcessingException e) {
            throw new HeaderJsonException(file + ": header is not valid JSON: " + describe(e), e);
        }
    }

    private static String describe(JsonProcessingException e) {
        String where = e.getLocation() == null ? "" : " at char " + e.getLocation().getCharOffset();
        return e.getOriginalMessage() + where;
    }

    private static Map<String, String> metadata(String file, JsonNode node) {
        if (!node.isObject()) throw new HeaderFieldException(file + ": __metadata__ must be an object of strings");
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> f : node.properties()) {
            if (!f.getValue().isTextual())
                throw new HeaderFieldException(file + ": __metadata__ value of '" + f.getKey() + "' is not a string");
            m.put(f.getKey(), f.getValue().textValue());
        }
        return Map.copyOf(m);
    }

    private static Entry entry(String file, String name, JsonNode node) {
        String where = file + ": tensor '" + name + "'";
        if (!node.isObject()) throw new HeaderFieldException(where + ": entry is not a JSON object");
        JsonNode dt = node.get("dtype"), sh = node.get("shape"), off = node.get("data_offsets");
        if (dt == null) throw new HeaderFieldException(where + ": missing field 'dtype'");
        if (sh == null) throw new HeaderFieldException(where + ": missing field 'shape'");
        if (off == null) throw new HeaderFieldException(where + ": missing field 'data_offsets'");
        if (!dt.isTextual()) throw new HeaderFieldException(where + ": 'dtype' is not a string");
        DType dtype;
        try {
            dtype = DType.fromHeader(dt.textValue());
        } catch (IllegalArgumentException e) {
            throw new UnknownDTypeException(where + ": unknown dtype '" + dt.textValue() + "' (known: "
                    + Arrays.toString(DType.values()) + ")");
        }
        if (!sh.isArray()) throw new HeaderFieldException(where + ": 'shape' is not an array");
        long[] shape = new long[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber())
                throw new InvalidShapeException(where + ": shape[" + i + "] = " + d + " is not an integer");
            if (d.bigIntegerValue().signum() < 0)
                throw new InvalidShapeException(where + ": shape[" + i + "] = " + d + " is negative");
            if (!d.canConvertToLong())
                throw new InvalidShapeException(where + ": shape[" + i + "] = " + d + " is too large");
            shape[i] = d.longValue();
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw new InvalidShapeException(where + ": shape " + sh + " has more elements than fit in a long");
            }
        }
        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(numel, dtype.bytes());
        } catch (ArithmeticException e) {
            throw new InvalidShapeException(where + ": shape " + sh + " × " + dtype + " overflows a long byte count");
        }
        if (!off.isArray() || off.size() != 2)
            throw new HeaderFieldException(where + ": 'data_offsets' is not an array [begin, end]");
        long[] be = new long[2];
        for (int i = 0; i < 2; i++) {
            JsonNode o = off.get(i);
            if (!o.isIntegralNumber())
                throw new HeaderFieldException(where + ": data_offsets[" + i + "] = " + o + " is not an integer");
            if (o.bigIntegerValue().signum() < 0 || !o.canConvertToLong())
                throw new OffsetsOutOfBoundsException(where + ": data_offsets[" + i + "] = " + o + " is out of range");
            be[i] = o.longValue();
        }
        if (be[1] < be[0])
            throw new OffsetsOutOfBoundsException(where + ": data_offsets " + off + " end before they begin");
        if (be[1] - be[0] != expectedBytes)
            throw new TensorSizeException(where + ": shape " + sh + " × " + dtype + " (" + dtype.bytes()
                    + " bytes) needs " + expectedBytes + " bytes but data_offsets " + off + " span " + (be[1] - be[0]));
        return new Entry(name, dtype, shape, be[0], be[1]);
    }

    /** The sorted byte ranges must tile [0, dataLength) exactly. */
    private static void checkTiling(String file, List<Entry> sorted, long dataLength) {
        long pos = 0;
        Entry prev = null;
        for (Entry e : sorted) {
            if (e.end() > dataLength)
                throw new OffsetsOutOfBoundsException(file + ": tensor '" + e.name() + "': data_offsets [" + e.begin()
                        + ", " + e.end() + "] end past the data section (" + dataLength + " bytes; file truncated?)");
            if (e.begin() < pos)
                throw new OverlappingTensorsException(file + ": tensor '" + e.name() + "' [" + e.begin() + ", " + e.end()
                        + ") overlaps tensor '" + prev.name() + "' [" + prev.begin() + ", " + prev.end() + ")");
            if (e.begin() > pos)
                throw new DataHoleException(file + ": " + (e.begin() - pos) + " unused bytes at data offset " + pos
                        + " before tensor '" + e.name() + "'");
            pos = e.end();
            if (e.byteLength() > 0 || prev == null) prev = e;
        }
        if (pos != dataLength)
            throw new DataHoleException(file + ": " + (dataLength - pos) + " unused bytes at the end of the data section"
                    + " (after offset " + pos + ")");
    }
}
