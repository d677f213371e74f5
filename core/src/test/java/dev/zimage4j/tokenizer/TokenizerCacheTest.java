package dev.zimage4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.*;

/** The binary tokenizer cache: same tokenizer as the JSON parse, keyed by the source bytes, damage rebuilt. */
class TokenizerCacheTest {
    private static byte[] bundledGz;
    private static QwenTokenizer json;

    @BeforeAll
    static void readBundled() throws Exception {
        try (InputStream in = QwenTokenizer.class.getResourceAsStream(QwenTokenizer.BUNDLED_RESOURCE)) {
            bundledGz = in.readAllBytes();
        }
        json = QwenTokenizer.cached(bundledGz, true, "json", null);
    }

    private static Path entry(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> all = s.toList();
            assertEquals(1, all.size(), () -> "one cache entry, not " + all);
            assertTrue(all.getFirst().getFileName().toString().endsWith(".ztok"));
            return all.getFirst();
        }
    }

    /**
     * Same tables (every array element), vocabulary both ways for every id, added tokens and fixture
     * ids as the tokenizer parsed from JSON.
     */
    private static void assertSameAsJson(QwenTokenizer t) throws Exception {
        BpeTables a = json.bpe().tables(), b = t.bpe().tables();
        assertArrayEquals(a.symbols(), b.symbols());
        assertArrayEquals(a.symbolStart(), b.symbolStart());
        assertArrayEquals(a.symbolLength(), b.symbolLength());
        assertArrayEquals(a.vocabSlots(), b.vocabSlots());
        assertArrayEquals(a.mergeKeys(), b.mergeKeys());
        assertArrayEquals(a.mergeValues(), b.mergeValues());
        assertEquals(json.bpe().size(), t.bpe().size());
        for (int id = 0; id < json.bpe().size(); id++) {
            String symbol = json.bpe().token(id);
            assertEquals(symbol, t.bpe().token(id), "token " + id);
            if (symbol != null) assertEquals(id, t.bpe().id(symbol), "id of " + symbol);
        }
        assertEquals(json.addedTokens(), t.addedTokens());
        for (JsonNode c : QwenTokenizerTest.cases().path("tokenizer_cases")) {
            String prompt = c.path("prompt").asText();
            assertArrayEquals(QwenTokenizerTest.ints(c.path("ids_raw")), t.encode(prompt), prompt);
            assertArrayEquals(json.encode(prompt), t.encode(prompt), prompt);
        }
    }

    @Test
    void missWritesEntryAndHitGivesTheSameTokenizer(@TempDir Path dir) throws Exception {
        TokenizerCache cache = new TokenizerCache(dir);
        QwenTokenizer first = QwenTokenizer.cached(bundledGz, true, "bundled", cache);
        Path e = entry(dir);
        long size = Files.size(e);
        assertTrue(size > 1_000_000 && size < 16_000_000, "entry of " + size + " bytes");
        assertNotNull(cache.read(TokenizerCache.sha256(bundledGz), new com.fasterxml.jackson.databind.ObjectMapper()), "hit");
        QwenTokenizer second = QwenTokenizer.cached(bundledGz, true, "bundled", cache);
        assertEquals(e, entry(dir));
        assertSameAsJson(first);
        assertSameAsJson(second);
    }

    @Test
    void otherSourceBytesMiss(@TempDir Path dir) throws Exception {
        TokenizerCache cache = new TokenizerCache(dir);
        QwenTokenizer.cached(bundledGz, true, "bundled", cache);
        byte[] other = bundledGz.clone();
        other[other.length - 1] ^= 1; // same content, other bytes: another key
        assertNull(cache.read(TokenizerCache.sha256(other), new com.fasterxml.jackson.databind.ObjectMapper()));
    }

    @Test
    void everyKindOfDamageIsDeletedAndRebuilt(@TempDir Path dir) throws Exception {
        TokenizerCache cache = new TokenizerCache(dir);
        QwenTokenizer.cached(bundledGz, true, "bundled", cache);
        Path e = entry(dir);
        byte[] good = Files.readAllBytes(e);
        byte[] key = TokenizerCache.sha256(bundledGz);
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x40;
        byte[] otherKeyHeader = good.clone();
        otherKeyHeader[8] ^= 1; // stored source hash no longer the file name's
        for (byte[] damaged : new byte[][]{new byte[0], java.util.Arrays.copyOf(good, good.length / 3),
                java.util.Arrays.copyOf(good, good.length - 1), flipped, otherKeyHeader, "not a cache file".getBytes()}) {
            Files.write(e, damaged);
            assertNull(cache.read(key, new com.fasterxml.jackson.databind.ObjectMapper()), "damaged entry of " + damaged.length + " bytes read as a hit");
            assertFalse(Files.exists(e), "damaged entry deleted");
            QwenTokenizer.cached(bundledGz, true, "bundled", cache);
            assertArrayEquals(good, Files.readAllBytes(entry(dir)), "rebuilt entry");
        }
        assertSameAsJson(QwenTokenizer.cached(bundledGz, true, "bundled", cache));
    }

    @Test
    void otherVersionIsRebuilt(@TempDir Path dir) throws Exception {
        TokenizerCache cache = new TokenizerCache(dir);
        QwenTokenizer.cached(bundledGz, true, "bundled", cache);
        Path e = entry(dir);
        byte[] good = Files.readAllBytes(e);
        ByteBuffer b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(4, 1); // version 1 (strings, not tables), with a valid checksum
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, good.length - 8);
        b.putLong(good.length - 8, crc.getValue());
        Files.write(e, b.array());
        assertNull(cache.read(TokenizerCache.sha256(bundledGz), new com.fasterxml.jackson.databind.ObjectMapper()));
        assertFalse(Files.exists(e));
        assertSameAsJson(QwenTokenizer.cached(bundledGz, true, "bundled", cache));
        assertArrayEquals(good, Files.readAllBytes(entry(dir)));
    }

    @Test
    void inconsistentTablesWithAValidChecksumAreRebuilt(@TempDir Path dir) throws Exception {
        TokenizerCache cache = new TokenizerCache(dir);
        byte[] key = TokenizerCache.sha256(bundledGz);
        BpeTables t = json.bpe().tables();
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var root = mapper.createObjectNode();
        root.putObject("model").put("type", "BPE");
        for (BpeTables bad : List.of(
                new BpeTables(t.symbols(), t.symbolStart(), java.util.Arrays.copyOf(t.symbolLength(), 10), t.vocabSlots(), t.mergeKeys(), t.mergeValues()),
                new BpeTables(t.symbols(), t.symbolStart(), t.symbolLength(), java.util.Arrays.copyOf(t.vocabSlots(), 1000), t.mergeKeys(), t.mergeValues()),
                new BpeTables(t.symbols(), t.symbolStart(), t.symbolLength(), t.vocabSlots(), t.mergeKeys(), java.util.Arrays.copyOf(t.mergeValues(), 16)))) {
            assertNotNull(bad.inconsistency());
            assertTrue(cache.write(key, root, bad, mapper));
            assertNull(cache.read(key, mapper), bad.inconsistency());
            assertFalse(Files.exists(cache.file(key)), "inconsistent entry deleted");
        }
        assertSameAsJson(QwenTokenizer.cached(bundledGz, true, "bundled", cache));
        assertNull(json.bpe().tables().inconsistency());
    }

    @Test
    void bundledKeyIsTheResourceHash(@TempDir Path dir) throws Exception {
        assertEquals(java.util.HexFormat.of().formatHex(TokenizerCache.sha256(bundledGz)), QwenTokenizer.BUNDLED_SHA256,
                "the bundled resource changed: set QwenTokenizer.BUNDLED_SHA256 to its SHA-256");
        TokenizerCache cache = new TokenizerCache(dir);
        assertSameAsJson(QwenTokenizer.loadBundled(cache)); // miss: from the resource, stored under its hash
        assertEquals(QwenTokenizer.BUNDLED_SHA256 + ".v2.ztok", entry(dir).getFileName().toString());
        assertSameAsJson(QwenTokenizer.loadBundled(cache)); // hit
    }

    @Test
    void unwritableLocationStillLoads(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x"); // a directory cannot be created under a file
        QwenTokenizer t = QwenTokenizer.cached(bundledGz, true, "bundled", new TokenizerCache(file.resolve("cache")));
        assertEquals(151643, t.requireTokenId("<|endoftext|>"));
    }

    @Test
    void rejectedTokenizerIsNotCached(@TempDir Path dir) throws Exception {
        byte[] json = "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0},\"merges\":[]}}".getBytes();
        assertThrows(TokenizerException.class, () -> QwenTokenizer.cached(json, false, "bad", new TokenizerCache(dir)));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(0, s.count());
        }
    }
}
