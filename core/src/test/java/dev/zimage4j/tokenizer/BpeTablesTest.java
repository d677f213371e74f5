package dev.zimage4j.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The flat vocabulary and merge tables: every lookup as the maps they are built from say. */
class BpeTablesTest {

    @Test
    void lookupsMatchTheMapsTheyAreBuiltFrom() {
        // enough symbols for many probe collisions; a gap in the ids (3 has no symbol); multi-byte UTF-8
        Map<String, Integer> vocab = new HashMap<>(Map.of("a", 0, "b", 1, "é", 2, "Ġ", 4, "一", 5));
        List<String[]> merges = new ArrayList<>();
        String[] base = {"a", "b", "é", "Ġ", "一"};
        for (int i = 0; i < 3000; i++) {
            String l = base[i % base.length], r = base[(i / base.length) % base.length] + i;
            vocab.putIfAbsent(r, vocab.size() + 10);
            vocab.putIfAbsent(l + r, vocab.size() + 10);
            merges.add(new String[]{l, r});
        }
        merges.add(new String[]{"a", "a0"}); // listed again: the first rank stays
        BpeTables t = BpeTables.build(vocab, merges, "test");
        assertNull(t.inconsistency());
        vocab.forEach((symbol, i) -> {
            assertEquals(i, t.id(symbol), symbol);
            assertEquals(symbol, t.symbol(i));
        });
        assertEquals(-1, t.id("not there"));
        assertNull(t.symbol(3));
        assertNull(t.symbol(-1));
        assertNull(t.symbol(t.size()));
        for (int rank = 0; rank < 3000; rank++) {
            String[] m = merges.get(rank);
            long v = t.merge(vocab.get(m[0]), vocab.get(m[1]));
            assertEquals(rank, v >>> 32, "rank of merge " + rank);
            assertEquals((int) vocab.get(m[0] + m[1]), (int) v, "merged id of merge " + rank);
        }
        assertEquals(-1, t.merge(vocab.get("b"), vocab.get("b")));
    }

    @Test
    void badInputIsNamed() {
        var negative = assertThrows(TokenizerException.class, () -> BpeTables.build(Map.of("a", -2), List.of(), "f.json"));
        assertTrue(negative.getMessage().contains("negative id -2"), negative.getMessage());
        var missing = assertThrows(TokenizerException.class,
                () -> BpeTables.build(Map.of("a", 0, "b", 1), List.<String[]>of(new String[]{"a", "b"}), "f.json"));
        assertTrue(missing.getMessage().contains("merge 0 'a b'") && missing.getMessage().contains("('ab')"), missing.getMessage());
    }

    @Test
    void lookupsEndOnFullTables() {
        // a damaged cache entry could hold tables with no free slot: a lookup must still end
        BpeTables full = new BpeTables(new byte[]{'a'}, new int[]{0}, new int[]{1}, new int[]{1, 1}, new long[]{5, 6}, new long[]{0, 0});
        assertEquals(-1, full.id("b"));
        assertEquals(0, full.id("a"));
        assertEquals(-1, full.merge(1, 2));
    }

    @Test
    void tablesStayAtMostFiveEighthsFull() {
        for (int n : new int[]{0, 1, 9, 10, 11, 1000, 151_387}) {
            int cap = BpeTables.capacity(n);
            assertEquals(1, Integer.bitCount(cap));
            assertTrue(n * 8L <= cap * 5L && cap >= 16, n + " entries in " + cap + " slots");
        }
    }
}
