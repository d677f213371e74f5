package dev.zimage4j.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * A binary copy of a tokenizer's built tables, kept on disk between processes so that a server start
 * neither parses the 151 k-entry vocabulary and merge list from JSON nor builds maps from them.
 *
 * <p>The file holds the {@link BpeTables} arrays exactly as {@link BpeTables#build} made them from the
 * JSON, plus the rest of the document (added tokens, normalizer, pre-tokenizer, …) as JSON; reading
 * it is one file read, a checksum and bulk copies into the arrays, with no object per entry. A
 * tokenizer built from it is the same as one built from the JSON. It is keyed by the SHA-256 of the
 * source file's bytes as stored (the gzip for the bundled one): a changed {@code tokenizer.json}
 * simply misses.
 *
 * <p>Reading maps the file and checks a CRC32C over it; only O(1) structural checks follow (see
 * {@link BpeTables#inconsistency}).
 *
 * <p>Layout (little-endian): magic {@code ZTOK}, version, the 32-byte source hash, the JSON rest
 * (length, bytes), the array lengths, padding to 8 bytes, the arrays ({@code symbols},
 * {@code symbolStart}, {@code symbolLength}, {@code vocabSlots}, {@code mergeKeys},
 * {@code mergeValues}), and a CRC32C of everything before it. A file that is truncated, garbled,
 * inconsistent ({@link BpeTables#inconsistency}), of another version or of another source is deleted
 * and rebuilt; writes go to a temporary file in the same directory and are renamed into place, so a
 * reader never sees a partial file and concurrent writers are harmless. The cache never fails a
 * load: any I/O problem falls back to parsing the JSON.
 *
 * <p>Location: {@code -Dzimage.tokenizer.cache=DIR}, else {@code ZIMAGE_TOKENIZER_CACHE}, else
 * {@code $XDG_CACHE_HOME/zimage4j/tokenizers} or {@code ~/.cache/zimage4j/tokenizers}; {@code off}
 * disables it.
 */
final class TokenizerCache {
    private static final int MAGIC = 0x5a544f4b; // "ZTOK"
    /** 2: the built {@link BpeTables} arrays (1 held the vocabulary and merges as strings). */
    private static final int VERSION = 2;
    private static final int HEADER = 4 + 4 + 32;

    /** What a cache entry holds: the rest of the tokenizer.json (all but vocab and merges) and the built tables. */
    record Entry(ObjectNode root, BpeTables tables) {
    }

    private final Path dir;

    TokenizerCache(Path dir) {
        this.dir = dir;
    }

    /** The configured cache, or null when it is off or no location can be found. */
    static TokenizerCache configured() {
        String v = System.getProperty("zimage.tokenizer.cache");
        if (v == null || v.isBlank()) v = System.getenv("ZIMAGE_TOKENIZER_CACHE");
        if (v != null && !v.isBlank()) return v.trim().equalsIgnoreCase("off") ? null : new TokenizerCache(Path.of(v.trim()));
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return new TokenizerCache(Path.of(xdg, "zimage4j", "tokenizers"));
        String home = System.getProperty("user.home");
        return home == null || home.isBlank() ? null : new TokenizerCache(Path.of(home, ".cache", "zimage4j", "tokenizers"));
    }

    /** SHA-256 of the source bytes: the cache key. */
    static byte[] sha256(byte[] source) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(source);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** The entry of {@code key}: {@code SHA256.v2.ztok} (the version in the name: another version's entries are left alone). */
    Path file(byte[] key) {
        return dir.resolve(HexFormat.of().formatHex(key) + ".v" + VERSION + ".ztok");
    }

    /** The entry for {@code key}, or null on a miss; a damaged entry is deleted. */
    Entry read(byte[] key, ObjectMapper mapper) {
        Path f = file(key);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            // mapped, not read: the arrays are bulk-copied straight from the page cache, no 8 MB byte[] in between
            long size = ch.size();
            if (size <= Integer.MAX_VALUE) {
                Entry e = decode(ch.map(FileChannel.MapMode.READ_ONLY, 0, size), key, mapper);
                if (e != null) return e;
            }
        } catch (NoSuchFileException absent) {
            return null;
        } catch (IOException | RuntimeException damaged) {
            // fall through: a garbled or unreadable entry is rebuilt like a missing one
        }
        try {
            Files.deleteIfExists(f);
        } catch (IOException ignored) {
            // a later write replaces it anyway
        }
        return null;
    }

    private static Entry decode(ByteBuffer mapped, byte[] key, ObjectMapper mapper) throws IOException {
        int n = mapped.capacity();
        if (n < HEADER + 4 + 8) return null;
        ByteBuffer in = mapped.order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        crc.update(in.duplicate().limit(n - 8));
        if (in.getLong(n - 8) != crc.getValue()) return null;
        if (in.getInt() != MAGIC || in.getInt() != VERSION) return null;
        byte[] stored = new byte[32];
        in.get(stored);
        if (!MessageDigest.isEqual(stored, key)) return null;
        byte[] rest = new byte[in.getInt()];
        in.get(rest);
        ObjectNode root = (ObjectNode) mapper.readTree(rest);
        int symbolBytes = in.getInt(), ids = in.getInt(), vocabSlots = in.getInt(), mergeSlots = in.getInt();
        long arrays = (long) symbolBytes + 4L * (2L * ids + vocabSlots) + 16L * mergeSlots;
        if (symbolBytes < 0 || ids < 0 || vocabSlots < 0 || mergeSlots < 0 || align8(in.position()) + arrays != n - 8) return null;
        in.position(align8(in.position()));
        byte[] symbols = new byte[symbolBytes];
        in.get(symbols);
        int[] start = ints(in, ids), length = ints(in, ids), slots = ints(in, vocabSlots);
        long[] keys = longs(in, mergeSlots), values = longs(in, mergeSlots);
        BpeTables t = new BpeTables(symbols, start, length, slots, keys, values);
        return t.inconsistency() == null ? new Entry(root, t) : null;
    }

    private static int align8(int position) {
        return (position + 7) & ~7;
    }

    private static int[] ints(ByteBuffer in, int n) {
        int[] a = new int[n];
        in.asIntBuffer().get(a); // one bulk copy
        in.position(in.position() + 4 * n);
        return a;
    }

    private static long[] longs(ByteBuffer in, int n) {
        long[] a = new long[n];
        in.asLongBuffer().get(a);
        in.position(in.position() + 8 * n);
        return a;
    }

    /** Stores {@code root} and {@code t} under {@code key} (atomically); false when it could not be written. */
    boolean write(byte[] key, ObjectNode root, BpeTables t, ObjectMapper mapper) {
        Path tmp = null;
        try {
            byte[] rest = mapper.writeValueAsBytes(root);
            int arraysAt = align8(HEADER + 4 + rest.length + 16);
            long size = arraysAt + (long) t.symbols().length + 4L * (t.symbolStart().length + t.symbolLength().length + t.vocabSlots().length)
                    + 8L * (t.mergeKeys().length + t.mergeValues().length);
            if (size > Integer.MAX_VALUE - 16) throw new IOException("tokenizer tables of " + size + " bytes are too large to cache");
            ByteBuffer out = ByteBuffer.allocate((int) size + 8).order(ByteOrder.LITTLE_ENDIAN);
            out.putInt(MAGIC).putInt(VERSION).put(key);
            out.putInt(rest.length).put(rest);
            out.putInt(t.symbols().length).putInt(t.symbolStart().length).putInt(t.vocabSlots().length).putInt(t.mergeKeys().length);
            out.position(arraysAt);
            out.put(t.symbols());
            for (int[] a : new int[][]{t.symbolStart(), t.symbolLength(), t.vocabSlots()}) {
                out.asIntBuffer().put(a);
                out.position(out.position() + 4 * a.length);
            }
            for (long[] a : new long[][]{t.mergeKeys(), t.mergeValues()}) {
                out.asLongBuffer().put(a);
                out.position(out.position() + 8 * a.length);
            }
            byte[] body = out.array();
            CRC32C crc = new CRC32C();
            crc.update(body, 0, (int) size);
            out.putLong(crc.getValue());
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "tok-", ".tmp");
            try (var ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer all = ByteBuffer.wrap(body);
                while (all.hasRemaining()) ch.write(all);
                ch.force(true);
            }
            Path target = file(key);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return true;
        } catch (IOException | RuntimeException e) {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
            return false;
        }
    }
}
