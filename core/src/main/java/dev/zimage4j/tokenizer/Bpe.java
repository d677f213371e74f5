package dev.zimage4j.tokenizer;

import java.util.Arrays;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The byte-level BPE model: a vocabulary of symbol strings and a ranked list of merges. A word (one
 * pre-tokenized piece, as UTF-8 bytes) starts as one symbol per byte; the adjacent pair with the
 * lowest merge rank is merged, leftmost first among equal ranks, until no pair has a merge. This is
 * the order of Hugging Face's BPE (a priority queue on (rank, position)), which matters for merge
 * lists whose ranks are not in training order.
 *
 * <p>Thread-safe; results for short words are cached.
 */
final class Bpe {
    private static final int CACHE_MAX_WORD_CHARS = 256;
    private static final int CACHE_CAPACITY = 100_000;

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    /** (left id, right id) → (rank, merged id), both packed into longs. */
    private final PairMap merges;
    /** Vocabulary id of each byte's single-character symbol. */
    private final int[] byteIds = new int[256];
    /** If set, a word that is itself in the vocabulary is not split (Hugging Face's ignore_merges). */
    private final boolean ignoreMerges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param vocab  symbol string → id
     * @param merges the merge pairs in rank order, each {@code {left, right}} as symbol strings
     * @param source for messages
     */
    Bpe(Map<String, Integer> vocab, Iterable<String[]> merges, boolean ignoreMerges, String source) {
        this.vocab = vocab;
        this.ignoreMerges = ignoreMerges;
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.idToToken = new String[maxId + 1];
        vocab.forEach((token, id) -> {
            if (id < 0) throw new TokenizerException(source + ": model.vocab has a negative id " + id + " for '" + token + "'");
            idToToken[id] = token;
        });
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
            if (id == null)
                throw new TokenizerException(source + ": model.vocab lacks the byte-level symbol for byte 0x"
                        + Integer.toHexString(b) + " ('" + ByteLevel.BYTE_TO_CHAR[b] + "'); not a byte-level BPE vocabulary");
            byteIds[b] = id;
        }
        this.merges = new PairMap(merges instanceof java.util.Collection<?> c ? c.size() : 1024);
        int rank = 0;
        for (String[] m : merges) {
            Integer a = vocab.get(m[0]), b = vocab.get(m[1]), ab = vocab.get(m[0] + m[1]);
            if (a == null || b == null || ab == null)
                throw new TokenizerException(source + ": merge " + rank + " '" + m[0] + " " + m[1] + "' uses a symbol missing from model.vocab ('"
                        + (a == null ? m[0] : b == null ? m[1] : m[0] + m[1]) + "')");
            this.merges.putIfAbsent(pair(a, b), ((long) rank << 32) | ab);
            rank++;
        }
    }

    private static long pair(int a, int b) {
        return ((long) a << 32) | (b & 0xffffffffL);
    }

    /** The id of a vocabulary symbol, or null. */
    Integer id(String token) {
        return vocab.get(token);
    }

    /** The symbol string of an id, or null when the id is not in the vocabulary. */
    String token(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** One past the largest vocabulary id. */
    int size() {
        return idToToken.length;
    }

    /**
     * Encodes one pre-tokenized piece.
     *
     * @param piece the piece as text (cache key)
     * @param utf8  its UTF-8 bytes
     */
    int[] encode(String piece, byte[] utf8) {
        boolean cacheable = piece.length() <= CACHE_MAX_WORD_CHARS;
        if (cacheable) {
            int[] hit = cache.get(piece);
            if (hit != null) return hit;
        }
        int[] ids = merge(utf8);
        if (cacheable) {
            if (cache.size() >= CACHE_CAPACITY) cache.clear();
            cache.put(piece, ids);
        }
        return ids;
    }

    private int[] merge(byte[] utf8) {
        return merge(utf8, utf8.length > 64);
    }

    /** Merges with the O(n²) scan or the priority queue (the two must agree; package-private for that test). */
    int[] merge(byte[] utf8, boolean useQueue) {
        int n = utf8.length;
        int[] sym = new int[n];
        for (int i = 0; i < n; i++) sym[i] = byteIds[utf8[i] & 0xff];
        if (n == 1) return sym;
        if (ignoreMerges) {
            StringBuilder sb = new StringBuilder(n);
            for (byte b : utf8) sb.append(ByteLevel.BYTE_TO_CHAR[b & 0xff]);
            Integer whole = vocab.get(sb.toString());
            if (whole != null) return new int[]{whole};
        }
        return useQueue ? mergeByQueue(sym) : mergeByScan(sym);
    }

    /** Short words: repeatedly merge the lowest-ranked adjacent pair (leftmost on ties). O(n²), no allocation per step. */
    private int[] mergeByScan(int[] sym) {
        int n = sym.length;
        while (n > 1) {
            long best = Long.MAX_VALUE;
            int at = -1;
            for (int i = 0; i + 1 < n; i++) {
                long m = merges.get(pair(sym[i], sym[i + 1]));
                if (m >= 0 && (m >>> 32) < (best >>> 32)) {
                    best = m;
                    at = i;
                }
            }
            if (at < 0) break;
            sym[at] = (int) best;
            System.arraycopy(sym, at + 2, sym, at + 1, n - at - 2);
            n--;
        }
        return Arrays.copyOf(sym, n);
    }

    /** Long words (e.g. a CJK run with no spaces): the same order with a priority queue on (rank, position). */
    private int[] mergeByQueue(int[] sym) {
        int n = sym.length;
        int[] prev = new int[n], next = new int[n];
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        // entries: rank in the high 32 bits, left position in the low 32; the pair's ids are re-checked on pop
        PriorityQueue<long[]> queue = new PriorityQueue<>((x, y) -> x[0] != y[0] ? Long.compare(x[0], y[0]) : Long.compare(x[1], y[1]));
        for (int i = 0; i + 1 < n; i++) offer(queue, sym, i, i + 1);
        while (!queue.isEmpty()) {
            long[] e = queue.poll();
            int left = (int) e[1], right = (int) e[2];
            // stale: either side was merged away or changed since this entry was queued
            if (dead[left] || dead[right] || next[left] != right || sym[left] != (int) e[3] || sym[right] != (int) e[4]) continue;
            sym[left] = (int) merges.get(pair(sym[left], sym[right]));
            dead[right] = true;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0) offer(queue, sym, prev[left], left);
            if (next[left] >= 0) offer(queue, sym, left, next[left]);
        }
        int count = 0;
        int[] out = new int[n];
        for (int i = 0; i >= 0; i = next[i]) out[count++] = sym[i];
        return Arrays.copyOf(out, count);
    }

    private void offer(PriorityQueue<long[]> queue, int[] sym, int left, int right) {
        long m = merges.get(pair(sym[left], sym[right]));
        if (m >= 0) queue.add(new long[]{m >>> 32, left, right, sym[left], sym[right]});
    }

    /** Open-addressing map from a packed id pair to a packed (rank, id); no boxing, -1 for absent. */
    private static final class PairMap {
        private final long[] keys;
        private final long[] values;
        private final int mask;

        PairMap(int expected) {
            int cap = Integer.highestOneBit(Math.max(16, expected * 2) - 1) << 1;
            keys = new long[cap];
            values = new long[cap];
            java.util.Arrays.fill(values, -1);
            mask = cap - 1;
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            int i = (int) (h ^ (h >>> 32)) & mask;
            while (values[i] >= 0 && keys[i] != key) i = (i + 1) & mask;
            return i;
        }

        void putIfAbsent(long key, long value) {
            int i = slot(key);
            if (values[i] < 0) {
                keys[i] = key;
                values[i] = value;
            }
        }

        long get(long key) {
            return values[slot(key)];
        }
    }
}
