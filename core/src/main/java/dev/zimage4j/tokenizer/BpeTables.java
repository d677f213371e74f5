package dev.zimage4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * The vocabulary and merge ranks of a byte-level BPE model as flat primitive arrays: nothing but
 * {@code byte[]}, {@code int[]} and {@code long[]}, so that {@link TokenizerCache} stores and reads
 * them with bulk copies (a server start builds no per-entry object: no 151 k-entry {@code HashMap},
 * no string per symbol).
 *
 * <ul>
 *   <li>id → symbol: the symbols' UTF-8 bytes back to back in {@link #symbols}; symbol {@code id}
 *       is {@code symbols[symbolStart[id] .. symbolStart[id] + symbolLength[id])}, length -1 for
 *       an id no symbol has;</li>
 *   <li>symbol → id: open addressing over {@link #vocabSlots} (power-of-two size, linear probing),
 *       each slot {@code id + 1} or 0 when empty, keyed by {@link #hash} of the symbol's bytes;</li>
 *   <li>(left id, right id) → (rank, merged id): open addressing over {@link #mergeKeys} /
 *       {@link #mergeValues}, key {@code left << 32 | right}, value {@code rank << 32 | merged},
 *       -1 when empty.</li>
 * </ul>
 *
 * <p>The arrays are derived from the parse alone ({@link #build}); their layout and hash functions
 * are part of the cache format (a change needs a new {@link TokenizerCache} version). Immutable once
 * built; never modified after construction.
 */
record BpeTables(byte[] symbols, int[] symbolStart, int[] symbolLength, int[] vocabSlots, long[] mergeKeys,
                 long[] mergeValues) {

    /**
     * Builds the tables from a parsed {@code tokenizer.json} exactly as the vocabulary map and merge
     * list say: for an id given to two symbols, the symbol the map iterates last is the id's symbol
     * (as before); for a pair listed twice, the first (lowest) rank wins.
     *
     * @param vocab  symbol string → id
     * @param merges the merge pairs in rank order, each {@code {left, right}} as symbol strings
     * @param source names the file in messages
     * @throws TokenizerException for a negative id or a merge whose symbols are not in the vocabulary
     */
    static BpeTables build(Map<String, Integer> vocab, java.util.List<String[]> merges, String source) {
        int maxId = -1;
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            int id = e.getValue();
            if (id < 0) throw new TokenizerException(source + ": model.vocab has a negative id " + id + " for '" + e.getKey() + "'");
            maxId = Math.max(maxId, id);
        }
        byte[][] bytesOf = new byte[maxId + 1][];
        int[] slots = new int[capacity(vocab.size())];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            byte[] b = e.getKey().getBytes(StandardCharsets.UTF_8);
            int id = e.getValue();
            bytesOf[id] = b; // the last symbol of an id wins, as the map's iteration order has it
            int mask = slots.length - 1;
            int i = hash(b, 0, b.length) & mask;
            while (slots[i] != 0) i = (i + 1) & mask; // map keys are distinct: no equal symbol is already there
            slots[i] = id + 1;
        }
        int total = 0;
        for (byte[] b : bytesOf) if (b != null) total += b.length;
        byte[] symbols = new byte[total];
        int[] start = new int[maxId + 1], length = new int[maxId + 1];
        int at = 0;
        for (int id = 0; id <= maxId; id++) {
            byte[] b = bytesOf[id];
            start[id] = at;
            length[id] = b == null ? -1 : b.length;
            if (b != null) {
                System.arraycopy(b, 0, symbols, at, b.length);
                at += b.length;
            }
        }
        int cap = capacity(merges.size());
        long[] keys = new long[cap], values = new long[cap];
        Arrays.fill(values, -1);
        BpeTables t = new BpeTables(symbols, start, length, slots, keys, values);
        int rank = 0;
        for (String[] m : merges) {
            int a = vocab.getOrDefault(m[0], -1), b = vocab.getOrDefault(m[1], -1), ab = vocab.getOrDefault(m[0] + m[1], -1);
            if (a < 0 || b < 0 || ab < 0)
                throw new TokenizerException(source + ": merge " + rank + " '" + m[0] + " " + m[1] + "' uses a symbol missing from model.vocab ('"
                        + (a < 0 ? m[0] : b < 0 ? m[1] : m[0] + m[1]) + "')");
            long key = pair(a, b);
            int i = t.firstMergeSlot(key);
            while (values[i] >= 0 && keys[i] != key) i = (i + 1) & (cap - 1);
            if (values[i] < 0) { // a pair listed again keeps its first rank
                keys[i] = key;
                values[i] = ((long) rank << 32) | ab;
            }
            rank++;
        }
        return t;
    }

    /** Table size for {@code n} entries: a power of two at most 5/8 full (linear probing stays short). */
    static int capacity(int n) {
        long want = Math.max(16, (long) n * 8 / 5 + 1);
        if (want > 1 << 30) throw new TokenizerException("a vocabulary or merge list of " + n + " entries is too large");
        return Integer.highestOneBit((int) want - 1) << 1;
    }

    /** FNV-1a over the bytes, then a final mix so that the low bits (the slot) depend on every byte. */
    static int hash(byte[] b, int from, int length) {
        int h = 0x811C9DC5;
        for (int i = from; i < from + length; i++) h = (h ^ (b[i] & 0xff)) * 0x01000193;
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        return h ^ (h >>> 13);
    }

    static long pair(int left, int right) {
        return ((long) left << 32) | (right & 0xffffffffL);
    }

    /** One past the largest id. */
    int size() {
        return symbolStart.length;
    }

    /** The symbol of {@code id}, or null when no symbol has that id. */
    String symbol(int id) {
        if (id < 0 || id >= symbolStart.length || symbolLength[id] < 0) return null;
        return new String(symbols, symbolStart[id], symbolLength[id], StandardCharsets.UTF_8);
    }

    /** The id of the symbol with these UTF-8 bytes, or -1. */
    int id(byte[] utf8) {
        int mask = vocabSlots.length - 1;
        // bounded probe: ends even on a table with no free slot
        for (int n = 0, i = hash(utf8, 0, utf8.length) & mask; n < vocabSlots.length; n++, i = (i + 1) & mask) {
            int s = vocabSlots[i];
            if (s == 0) return -1;
            int id = s - 1;
            if (symbolLength[id] == utf8.length
                    && Arrays.equals(symbols, symbolStart[id], symbolStart[id] + utf8.length, utf8, 0, utf8.length)) return id;
        }
        return -1;
    }

    /** The id of a symbol string, or -1. */
    int id(String symbol) {
        return id(symbol.getBytes(StandardCharsets.UTF_8));
    }

    private int firstMergeSlot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & (mergeKeys.length - 1);
    }

    /** {@code rank << 32 | merged id} of the merge of {@code left} and {@code right}, or -1 when they do not merge. */
    long merge(int left, int right) {
        long key = pair(left, right);
        int mask = mergeKeys.length - 1;
        for (int n = 0, i = firstMergeSlot(key); n < mergeKeys.length; n++, i = (i + 1) & mask) {
            long v = mergeValues[i];
            if (v < 0 || mergeKeys[i] == key) return v;
        }
        return -1;
    }

    /**
     * Checks that the arrays fit together: sizes and power-of-two tables (what a damaged or foreign cache
     * entry that passed its checksum would get wrong first). O(1): element values are not scanned, so a
     * server start does not walk 700 k entries in a cold JVM; lookups stay memory-safe and bounded on any
     * values (an out-of-range entry throws, a full table ends its probe).
     *
     * @return null when consistent, else what is wrong
     */
    String inconsistency() {
        if (symbolLength.length != symbolStart.length) return "the symbol start and length arrays differ in size";
        if (Integer.bitCount(vocabSlots.length) != 1) return "the vocabulary table's size " + vocabSlots.length + " is not a power of two";
        if (Integer.bitCount(mergeKeys.length) != 1 || mergeValues.length != mergeKeys.length)
            return "the merge table's sizes " + mergeKeys.length + " / " + mergeValues.length + " are not one power of two";
        return null;
    }
}
