package dev.zimage4j.modelgen;

import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.TensorView;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.IntStream;

/**
 * A checkpoint of seeded random bf16 weights held in anonymous native memory: the key names and shapes of a
 * real component (from {@link dev.zimage4j.dit.DitShapes}, {@link Qwen3Shapes}, {@link VaeShapes}), so a
 * real-size model can be benchmarked without writing 20 GB to disk. RANDOM WEIGHTS: images are noise.
 *
 * <p>Same scales as {@link RandomInit} (biases 0, norm scales 1, matrices std 1/√fan_in, pad tokens and
 * embeddings std 1) but drawn uniformly in [−√3·std, √3·std] (same variance) from a splitmix64 stream per
 * 64 Ki-element chunk, filled in parallel, so the 10 B values of the real model take seconds. The values
 * therefore differ from {@code make-random-model}'s for the same seed; they depend only on (seed, name).
 */
public final class RandomCheckpoint implements Checkpoint {
    private static final int CHUNK = 1 << 16;
    private final Map<String, TensorView> views;
    private final Arena arena;
    private final String source;

    private RandomCheckpoint(Map<String, TensorView> views, Arena arena, String source) {
        this.views = views;
        this.arena = arena;
        this.source = source;
    }

    /**
     * Allocates and fills every tensor of {@code shapes} (name → shape) with seeded random bf16 values.
     *
     * @param what names the checkpoint in messages, e.g. "random real-size DiT"
     */
    public static RandomCheckpoint create(Map<String, long[]> shapes, long seed, String what) {
        Arena arena = Arena.ofShared();
        Map<String, TensorView> views = new TreeMap<>();
        List<long[]> chunks = new ArrayList<>(); // {tensor index, chunk index}
        List<TensorView> order = new ArrayList<>();
        for (var e : shapes.entrySet()) {
            long n = 1;
            for (long d : e.getValue()) n *= d;
            TensorView v = new TensorView(e.getKey(), DType.BF16, e.getValue().clone(), arena.allocate(2 * n, 64));
            views.put(e.getKey(), v);
            for (long c = 0; c * CHUNK < n; c++) chunks.add(new long[]{order.size(), c});
            order.add(v);
        }
        IntStream.range(0, chunks.size()).parallel().forEach(i -> {
            TensorView v = order.get((int) chunks.get(i)[0]);
            fill(v, chunks.get(i)[1], seed);
        });
        return new RandomCheckpoint(views, arena, what + " (seed " + seed + ", in memory)");
    }

    private static void fill(TensorView v, long chunk, long seed) {
        long start = chunk * CHUNK, end = Math.min(v.numel(), start + CHUNK);
        MemorySegment d = v.data();
        float std = RandomInit.std(v.name(), v.shape());
        if (std == 0) {
            short c = FloatConversion.floatToBf16(RandomInit.constant(v.name(), v.shape()));
            for (long i = start; i < end; i++) d.setAtIndex(ValueLayout.JAVA_SHORT, i, c);
            return;
        }
        float half = (float) (Math.sqrt(3) * std) * 0x1p-23f; // uniform in [-√3 std, √3 std] from 24 random bits
        long s = seed ^ RandomInit.hash(v.name()) ^ (chunk * 0x9E3779B97F4A7C15L);
        short[] buf = new short[(int) (end - start)];
        for (int i = 0; i < buf.length; i++) {
            s += 0x9E3779B97F4A7C15L;
            long z = s;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            int bits = Float.floatToRawIntBits(((int) (z >>> 40) - (1 << 23)) * half);
            buf[i] = (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16); // round to nearest even (finite values only)
        }
        MemorySegment.copy(buf, 0, d, ValueLayout.JAVA_SHORT, 2 * start, buf.length);
    }

    /** Bytes held (bf16). */
    public long bytes() {
        long n = 0;
        for (TensorView v : views.values()) n += v.data().byteSize();
        return n;
    }

    @Override
    public SortedSet<String> names() {
        return Collections.unmodifiableSortedSet(new TreeSet<>(views.keySet()));
    }

    @Override
    public Optional<TensorView> find(String name) {
        return Optional.ofNullable(views.get(name));
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of("format", "pt");
    }

    @Override
    public String source() {
        return source;
    }

    /** Frees the memory; views obtained earlier must not be used afterwards. Idempotent. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
