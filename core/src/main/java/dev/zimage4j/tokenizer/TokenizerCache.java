package dev.zimage4j.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * A compact binary copy of a parsed {@code tokenizer.json}, kept on disk between processes so that a
 * server start does not parse the 151 k-entry vocabulary and merge list from JSON again (≈ 2.5 s on
 * the development VM, against ≈ 0.2 s to read this form).
 *
 * <p>The file holds exactly what the JSON parse produces — the vocabulary (symbol, id) in file
 * order, the merges (left, right) in rank order, and the rest of the document as JSON — so a
 * tokenizer built from it is the same object as one built from the JSON. It is keyed by the
 * SHA-256 of the source file's bytes as stored (the gzip for the bundled one): a changed
 * {@code tokenizer.json} simply misses.
 *
 * <p>Layout: magic {@code ZTOK}, version, the 32-byte source hash, the payload, and a CRC32C of
 * everything before it. A file that is truncated, garbled, of another version or of another source
 * is deleted and rebuilt; writes go to a temporary file in the same directory and are renamed into
 * place, so a reader never sees a partial file and concurrent writers are harmless. The cache never
 * fails a load: any I/O problem falls back to parsing the JSON.
 *
 * <p>Location: {@code -Dzimage.tokenizer.cache=DIR}, else {@code ZIMAGE_TOKENIZER_CACHE}, else
 * {@code $XDG_CACHE_HOME/zimage4j/tokenizers} or {@code ~/.cache/zimage4j/tokenizers}; {@code off}
 * disables it.
 */
final class TokenizerCache {
    private static final int MAGIC = 0x5a544f4b; // "ZTOK"
    private static final int VERSION = 1;

    /** What the JSON parse of a tokenizer.json yields: the small rest of the document, vocab, merges. */
    record Parsed(ObjectNode root, Map<String, Integer> vocab, List<String[]> merges) {
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

    Path file(byte[] key) {
        return dir.resolve(HexFormat.of().formatHex(key) + ".ztok");
    }

    /** The cached parse for {@code key}, or null on a miss; a damaged entry is deleted. */
    Parsed read(byte[] key, ObjectMapper mapper) {
        Path f = file(key);
        byte[] b;
        try {
            b = Files.readAllBytes(f);
        } catch (IOException e) {
            return null; // absent or unreadable: a miss
        }
        try {
            Parsed p = decode(b, key, mapper);
            if (p != null) return p;
        } catch (RuntimeException | IOException damaged) {
            // fall through: a garbled entry is rebuilt like a missing one
        }
        try {
            Files.deleteIfExists(f);
        } catch (IOException ignored) {
            // a later write replaces it anyway
        }
        return null;
    }

    private static Parsed decode(byte[] b, byte[] key, ObjectMapper mapper) throws IOException {
        if (b.length < 4 + 4 + 32 + 8) return null;
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length - 8);
        ByteBuffer in = ByteBuffer.wrap(b);
        if (in.getLong(b.length - 8) != crc.getValue()) return null;
        if (in.getInt() != MAGIC || in.getInt() != VERSION) return null;
        byte[] stored = new byte[32];
        in.get(stored);
        if (!MessageDigest.isEqual(stored, key)) return null;
        ObjectNode root = (ObjectNode) mapper.readTree(string(in, b, in.getInt()));
        int nv = in.getInt();
        Map<String, Integer> vocab = QwenTokenizer.newVocabMap(); // same capacity as the JSON parse: same iteration order
        for (int i = 0; i < nv; i++) {
            int id = in.getInt();
            vocab.put(string(in, b, in.getShort() & 0xffff), id);
        }
        int nm = in.getInt();
        List<String[]> merges = new ArrayList<>(nm);
        for (int i = 0; i < nm; i++)
            merges.add(new String[]{string(in, b, in.getShort() & 0xffff), string(in, b, in.getShort() & 0xffff)});
        if (in.position() != b.length - 8 || vocab.size() != nv) return null;
        return new Parsed(root, vocab, merges);
    }

    private static String string(ByteBuffer in, byte[] b, int len) {
        String s = new String(b, in.position(), len, StandardCharsets.UTF_8);
        in.position(in.position() + len);
        return s;
    }

    /** Stores {@code p} under {@code key} (atomically); false when it could not be written. */
    boolean write(byte[] key, Parsed p, ObjectMapper mapper) {
        Path tmp = null;
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(4 << 20);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(MAGIC);
            out.writeInt(VERSION);
            out.write(key);
            bytes(out, mapper.writeValueAsBytes(p.root()), false);
            out.writeInt(p.vocab().size());
            for (Map.Entry<String, Integer> e : p.vocab().entrySet()) {
                out.writeInt(e.getValue());
                bytes(out, e.getKey().getBytes(StandardCharsets.UTF_8), true);
            }
            out.writeInt(p.merges().size());
            for (String[] m : p.merges()) {
                bytes(out, m[0].getBytes(StandardCharsets.UTF_8), true);
                bytes(out, m[1].getBytes(StandardCharsets.UTF_8), true);
            }
            out.flush();
            CRC32C crc = new CRC32C();
            byte[] body = bytes.toByteArray();
            crc.update(body);
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "tok-", ".tmp");
            try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                ByteBuffer all = ByteBuffer.allocate(body.length + 8).put(body).putLong(crc.getValue()).flip();
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

    private static void bytes(DataOutputStream out, byte[] b, boolean shortLength) throws IOException {
        if (shortLength) {
            if (b.length > 0xffff) throw new IOException("symbol of " + b.length + " bytes is too long for the cache format");
            out.writeShort(b.length);
        } else {
            out.writeInt(b.length);
        }
        out.write(b);
    }
}
