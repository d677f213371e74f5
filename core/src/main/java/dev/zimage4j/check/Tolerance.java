package dev.zimage4j.check;

import dev.zimage4j.kernels.Backend;

/**
 * What one stage's output is held to (testdata/README.md): max|a−b|/max|b| ≤ {@code maxRelError} and, where
 * {@code minCosine} is set (not NaN), cosine similarity ≥ {@code minCosine}. A float32 backend gets the stage's
 * own float32 tolerance; a backend that multiplies in bf16 ({@link Backend#reducedPrecision()}, the CUDA one)
 * gets the README's GPU criterion, ≤ 2e-2 and cosine ≥ 0.999.
 */
public record Tolerance(double maxRelError, double minCosine) {
    /** The README's tolerance for a bf16-compute GPU path on a single forward. */
    public static final double GPU_MAX_REL_ERROR = 2e-2, GPU_MIN_COSINE = 0.999;

    /** {@code float32} (the stage's README figure) on a float32 backend, the GPU criterion on a bf16 one. */
    public static Tolerance of(double float32, Backend backend) {
        return backend.reducedPrecision() ? new Tolerance(GPU_MAX_REL_ERROR, GPU_MIN_COSINE) : new Tolerance(float32, Double.NaN);
    }

    /** Measures {@code actual} against {@code expected} and judges it. */
    public CaseResult judge(String stage, String name, float[] actual, float[] expected, String detail) {
        double err = Errors.relMax(actual, expected);
        double cos = Double.isNaN(minCosine) || actual.length != expected.length ? Double.NaN : Errors.cosine(actual, expected);
        return new CaseResult(stage, name, err, maxRelError, detail, cos, minCosine);
    }
}
