package dev.zimage4j.safetensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Seeded random mutations of a valid file (header bytes, length field, data length): every outcome is either
 * a checkpoint whose every view lies inside its file, or one of the specific exceptions naming the file.
 * One case in {@link #FILE_EVERY} is written, mapped and opened; the others run the same validation over a heap
 * segment (mapping and unmapping a file costs a few milliseconds each, which thousands of cases cannot afford).
 */
class HeaderFuzzTest {
    @TempDir
    Path dir;

    private static final long SEED = 20261129L;
    private static final int CASES = 10_000;
    /** Every this many cases goes through a real file, mapping and arena; the rest through the same parser in memory. */
    private static final int FILE_EVERY = 40;

    /** The concrete exception types a malformed file may produce (never a bare base type, never anything else). */
    private static final Set<Class<?>> SPECIFIC = Set.of(HeaderLengthException.class, HeaderEncodingException.class,
            HeaderJsonException.class, HeaderFieldException.class, UnknownDTypeException.class, InvalidShapeException.class,
            TensorSizeException.class, OffsetsOutOfBoundsException.class, OverlappingTensorsException.class,
            DataHoleException.class, DuplicateTensorException.class);

    private static final String[] NUMBERS = {"0", "1", "-1", "7", "8", "16", "2147483647", "2147483648", "4294967296",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e3", "1.5", "-0", "1e400",
            "123456789012345678901234567890", "00", "0x10", "NaN", "Infinity", "null", "true", "\"8\""};
    private static final String ALPHABET = "{}[],:\"0123456789-.eE \\/ufabnrtxFIBU_\u00e9\u2603\n\t";

    @Test
    void randomMutationsFailCleanly() {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt").metadata("k", "v");
        int i = 0;
        for (DType t : DType.values()) {
            long[] shape = {1 + i % 3, 1 + i % 2};
            i++;
            w.add("layers." + i + "." + t.name().toLowerCase(), t, shape, s -> {
                for (long k = 0; k < shape[0] * shape[1] * t.bytes(); k++) s.putByte((byte) k);
            });
        }
        Path base = dir.resolve("base.safetensors");
        w.write(base);
        byte[] good = readAll(base);
        long headerLength = ByteBuffer.wrap(good, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] header = Arrays.copyOfRange(good, 8, 8 + (int) headerLength);
        byte[] data = Arrays.copyOfRange(good, 8 + (int) headerLength, good.length);

        Random rnd = new Random(SEED);
        Map<String, Integer> outcomes = new TreeMap<>();
        Path f = dir.resolve("fuzz.safetensors");
        for (int c = 0; c < CASES; c++) {
            byte[] h = header.clone(), d = data;
            long length = -1;
            int kind = rnd.nextInt(8);
            switch (kind) {
                case 0 -> {
                    for (int k = 1 + rnd.nextInt(3); k > 0; k--) h[rnd.nextInt(h.length)] ^= (byte) (1 << rnd.nextInt(8));
                }
                case 1 -> {
                    for (int k = 1 + rnd.nextInt(3); k > 0; k--)
                        h = splice(h, rnd.nextInt(h.length), 1, String.valueOf(ALPHABET.charAt(rnd.nextInt(ALPHABET.length()))));
                }
                case 2 -> {
                    int at = rnd.nextInt(h.length);
                    h = splice(h, at, rnd.nextInt(Math.min(40, h.length - at) + 1), "");
                }
                case 3 -> {
                    int from = rnd.nextInt(h.length), len = rnd.nextInt(Math.min(60, h.length - from) + 1);
                    h = splice(h, rnd.nextInt(h.length), 0, new String(h, from, len, StandardCharsets.ISO_8859_1), true);
                }
                case 4 -> h = replaceNumber(h, rnd);
                case 5 -> d = Arrays.copyOf(data, Math.max(0, data.length + rnd.nextInt(17) - 8));
                case 6 -> length = switch (rnd.nextInt(4)) {
                    case 0 -> headerLength + rnd.nextInt(33) - 16;
                    case 1 -> headerLength ^ (1L << rnd.nextInt(64));
                    case 2 -> rnd.nextLong();
                    default -> rnd.nextInt(200);
                };
                default -> {
                    h = replaceNumber(h, rnd);
                    h = replaceNumber(h, rnd);
                }
            }
            if (length == -1) length = h.length;
            byte[] bytes = Raw.file(length, h, d);
            if (kind == 7 && rnd.nextInt(4) == 0) bytes = Arrays.copyOf(bytes, rnd.nextInt(bytes.length + 1));
            String outcome;
            try {
                boolean viaFile = c % FILE_EVERY == 0;
                Map<String, TensorView> views = new HashMap<>();
                if (viaFile) {
                    Raw.write(f, bytes);
                    try (Checkpoint cp = Safetensors.open(f)) {
                        for (String n : cp.names()) views.put(n, cp.get(n));
                        checkViews(views);
                    }
                } else {
                    Safetensors.slice(f.toString(), MemorySegment.ofArray(bytes), views);
                    checkViews(views);
                }
                outcome = "opened";
            } catch (SafetensorsException e) {
                if (!SPECIFIC.contains(e.getClass()))
                    fail("case " + c + ": unspecific " + e.getClass().getSimpleName() + ": " + e.getMessage(), e);
                if (!e.getMessage().contains(f.toString())) fail("case " + c + " does not name the file: " + e.getMessage());
                outcome = e.getClass().getSimpleName();
            } catch (RuntimeException e) {
                throw new AssertionError("case " + c + " (kind " + kind + ") escaped as " + e, e);
            }
            outcomes.merge(outcome, 1, Integer::sum);
        }
        System.out.println("fuzz outcomes over " + CASES + " cases: " + outcomes);
        assertTrue(outcomes.size() >= 10, "mutations reach most checks: " + outcomes);
        assertTrue(outcomes.getOrDefault("opened", 0) < CASES / 2, "most mutations are detected: " + outcomes);
    }

    /** Every view is exactly its dtype × shape long and can be read at both ends. */
    private static void checkViews(Map<String, TensorView> views) {
        for (TensorView v : views.values()) {
            assertEquals(v.numel() * v.dtype().bytes(), v.data().byteSize(), v.name());
            if (v.data().byteSize() > 0) {
                v.data().get(ValueLayout.JAVA_BYTE, 0);
                v.data().get(ValueLayout.JAVA_BYTE, v.data().byteSize() - 1);
            }
        }
    }

    private static byte[] readAll(Path p) {
        try {
            return java.nio.file.Files.readAllBytes(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static byte[] splice(byte[] h, int at, int remove, String insert) {
        return splice(h, at, remove, insert, false);
    }

    private static byte[] splice(byte[] h, int at, int remove, String insert, boolean latin1) {
        byte[] ins = insert.getBytes(latin1 ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
        byte[] out = new byte[h.length - remove + ins.length];
        System.arraycopy(h, 0, out, 0, at);
        System.arraycopy(ins, 0, out, at, ins.length);
        System.arraycopy(h, at + remove, out, at + ins.length, h.length - at - remove);
        return out;
    }

    /** Replaces a random run of digits by an interesting number (or non-number). */
    private static byte[] replaceNumber(byte[] h, Random rnd) {
        for (int tries = 0; tries < 20; tries++) {
            int at = rnd.nextInt(h.length);
            if (h[at] < '0' || h[at] > '9') continue;
            int s = at, e = at;
            while (s > 0 && h[s - 1] >= '0' && h[s - 1] <= '9') s--;
            while (e < h.length && h[e] >= '0' && h[e] <= '9') e++;
            return splice(h, s, e - s, NUMBERS[rnd.nextInt(NUMBERS.length)]);
        }
        return h;
    }
}
