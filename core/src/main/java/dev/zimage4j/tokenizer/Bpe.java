package dev.zimage4j.tokenizer;

import java.util.Arrays;
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

    /** Vocabulary and merge ranks as flat arrays (what {@link TokenizerCache} stores). */
    private final BpeTables tables;
    /** Vocabulary id of each byte's single-character symbol. */
    private final int[] byteIds = new int[256];
    /** If set, a word that is itself in the vocabulary is not split (Hugging Face's ignore_merges). */
    private final boolean ignoreMerges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param tables the vocabulary and merges ({@link BpeTables#build} from a parse, or read from the cache)
     * @param source for messages
     * @throws TokenizerException when a byte has no single-character symbol (not a byte-level vocabulary)
     */
    Bpe(BpeTables tables, boolean ignoreMerges, String source) {
        this.tables = tables;
        this.ignoreMerges = ignoreMerges;
        for (int b = 0; b < 256; b++) {
            int id = tables.id(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
            if (id < 0)
                throw new TokenizerException(source + ": model.vocab lacks the byte-level symbol for byte 0x"
                        + Integer.toHexString(b) + " ('" + ByteLevel.BYTE_TO_CHAR[b] + "'); not a byte-level BPE vocabulary");
            byteIds[b] = id;
        }
    }

    /** The tables (what the cache stores). */
    BpeTables tables() {
        return tables;
    }

    /** The id of a vocabulary symbol, or -1. */
    int id(String token) {
        return tables.id(token);
    }

    /** The symbol string of an id, or null when the id is not in the vocabulary. */
    String token(int id) {
        return tables.symbol(id);
    }

    /** One past the largest vocabulary id. */
    int size() {
        return tables.size();
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
            int whole = tables.id(sb.toString());
            if (whole >= 0) return new int[]{whole};
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
                long m = tables.merge(sym[i], sym[i + 1]);
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
            sym[left] = (int) tables.merge(sym[left], sym[right]);
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
        long m = tables.merge(sym[left], sym[right]);
        if (m >= 0) queue.add(new long[]{m >>> 32, left, right, sym[left], sym[right]});
    }
}
