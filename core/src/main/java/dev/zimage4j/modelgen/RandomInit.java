package dev.zimage4j.modelgen;

import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.TensorSource;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Seeded random values for one named tensor, chosen so that a forward pass through a random model keeps
 * activations at unit scale (no overflow in a demo generation):
 * <ul>
 *   <li>biases: zero;</li>
 *   <li>other 1-D weights (RMSNorm / GroupNorm scales): one;</li>
 *   <li>matrices and conv kernels: normal · 1/sqrt(fan_in), fan_in = product of all dims but the first;</li>
 *   <li>pad tokens and embedding tables: standard normal.</li>
 * </ul>
 * Each tensor draws from its own generator seeded by (seed, name), so values do not depend on which other
 * tensors exist or on the order they are written.
 */
public final class RandomInit {
    private static final int CHUNK = 1 << 16;

    private RandomInit() {
    }

    /** A source writing {@code name}'s values as {@code dtype}, generated in chunks (never held whole). */
    public static TensorSource source(long seed, String name, long[] shape, DType dtype) {
        return sink -> {
            long numel = 1;
            for (long d : shape) numel *= d;
            float std = std(name, shape);
            float constant = constant(name, shape);
            SplittableRandom rng = new SplittableRandom(seed ^ hash(name));
            float[] buf = new float[(int) Math.min(CHUNK, numel)];
            for (long done = 0; done < numel; ) {
                int n = (int) Math.min(buf.length, numel - done);
                for (int i = 0; i < n; i++) buf[i] = std == 0 ? constant : (float) (rng.nextGaussian() * std);
                sink.putFloats(dtype, buf, 0, n);
                done += n;
            }
        };
    }

    /** Standard deviation of the normal draw, or 0 for a constant tensor. */
    static float std(String name, long[] shape) {
        if (shape.length <= 1) return 0;
        if (name.endsWith("pad_token") || name.endsWith("embed_tokens.weight")) return 1;
        long fanIn = 1;
        for (int i = 1; i < shape.length; i++) fanIn *= shape[i];
        return (float) (1 / Math.sqrt(fanIn));
    }

    /** The value of a constant (1-D) tensor: 0 for biases, 1 for norm scales. */
    static float constant(String name, long[] shape) {
        return name.endsWith(".bias") ? 0f : 1f;
    }

    /** FNV-1a of the name, so seeds differ per tensor and are stable across runs and JDKs. */
    static long hash(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
