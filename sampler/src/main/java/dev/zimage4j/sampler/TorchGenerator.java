package dev.zimage4j.sampler;

/**
 * Reproduces {@code torch.Generator("cpu").manual_seed(seed)} and {@code torch.randn(shape, generator=g)}
 * (float32, x86-64) bit for bit, so a seed gives the same initial noise, and hence the same image, as
 * diffusers with a CPU generator.
 *
 * <p>What torch does (ATen {@code CPUGeneratorImpl}, {@code DistributionTemplates.h}, {@code avx_mathfun.h}):
 * <ul>
 *   <li>an MT19937 engine seeded with the low 32 bits of the seed;</li>
 *   <li>a float uniform in [0, 1) is {@code (u32 & (2^24−1)) · 2^−24}; a double uniform is
 *       {@code (u64 & (2^53−1)) · 2^−53} where {@code u64 = u32_first << 32 | u32_second};</li>
 *   <li>{@code randn} of ≥ 16 contiguous floats: first fill the whole tensor with float uniforms, then
 *       Box-Muller in blocks of 16 (lanes j and j+8 form a pair: {@code r = sqrt(−2·log(1 − u_j))},
 *       {@code θ = 2π·u_{j+8}}, outputs {@code r·cos θ}, {@code r·sin θ}) with the float32 polynomial
 *       log/sincos of {@code avx_mathfun.h}; if the size is not a multiple of 16, the last 16 values are
 *       redrawn from 16 fresh uniforms and transformed again;</li>
 *   <li>{@code randn} of fewer than 16 values: the scalar double Box-Muller of {@code at::normal_distribution},
 *       which caches the second (sine) value in the generator for the next draw.</li>
 * </ul>
 * State carries over between calls exactly as it does on one torch generator (diffusers' img2img draws
 * the VAE posterior sample and then the noise from the same generator).
 */
public final class TorchGenerator {
    private static final float TWO_PI_F = (float) (2.0 * Math.PI);

    private final Mt19937 engine;
    private double cachedNormal = Double.NaN; // torch's next_double_normal_sample_

    /** {@code torch.Generator().manual_seed(seed)}. */
    public TorchGenerator(long seed) {
        engine = new Mt19937(seed);
    }

    /** {@code torch.randn(shape, generator=this)} as a flat, row-major float32 array. */
    public float[] randn(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + java.util.Arrays.toString(shape));
            n *= d;
        }
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("shape too large for one array: " + n + " elements");
        float[] out = new float[(int) n];
        fillNormal(out);
        return out;
    }

    /** Fills {@code out} as {@code torch.randn} of {@code out.length} elements would. */
    public void fillNormal(float[] out) {
        int size = out.length;
        if (size >= 16) {
            for (int i = 0; i < size; i++) out[i] = nextFloatUniform();
            float[] sc = new float[2];
            for (int i = 0; i + 16 <= size; i += 16) boxMuller16(out, i, sc);
            if (size % 16 != 0) {
                int start = size - 16;
                for (int i = 0; i < 16; i++) out[start + i] = nextFloatUniform();
                boxMuller16(out, start, sc);
            }
        } else {
            for (int i = 0; i < size; i++) out[i] = (float) nextDoubleNormal();
        }
    }

    /** {@code normal_fill_16_AVX2} on {@code data[off .. off+16)}, mean 0 and std 1. */
    private static void boxMuller16(float[] data, int off, float[] sc) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - data[off + j];
            float u2 = data[off + j + 8];
            float radius = (float) Math.sqrt(-2f * AvxMathFun.log(u1)); // sqrt of a float is correctly rounded either way
            float theta = TWO_PI_F * u2;
            AvxMathFun.sincos(theta, sc);
            data[off + j] = radius * sc[1];
            data[off + j + 8] = radius * sc[0];
        }
    }

    /** {@code at::normal_distribution<double>(0, 1)} with the generator's cached second value. */
    private double nextDoubleNormal() {
        if (!Double.isNaN(cachedNormal)) {
            double v = cachedNormal;
            cachedNormal = Double.NaN;
            return v;
        }
        double u1 = nextDoubleUniform();
        double u2 = nextDoubleUniform();
        double r = Math.sqrt(-2.0 * Math.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * Math.sin(theta);
        return r * Math.cos(theta);
    }

    /** {@code uniform_real_distribution<float>(0, 1)}: 24 random bits scaled by 2^−24. */
    float nextFloatUniform() {
        return (engine.nextUint32() & 0xffffff) * 0x1p-24f;
    }

    /** {@code uniform_real_distribution<double>(0, 1)}: 53 bits of {@code random64()} scaled by 2^−53. */
    double nextDoubleUniform() {
        long hi = engine.nextUint32();
        long lo = engine.nextUint32();
        long r64 = (hi << 32) | lo;
        return (r64 & ((1L << 53) - 1)) * 0x1p-53;
    }
}
