package dev.zimage4j.check;

/** The error measures of the fixtures README. */
public final class Errors {
    private Errors() {
    }

    /** {@code max|a−b| / max|b|} over the tensor (the README's measure); +inf on length mismatch or NaN. */
    public static double relMax(float[] actual, float[] expected) {
        if (actual.length != expected.length) return Double.POSITIVE_INFINITY;
        double num = 0, den = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = Math.abs((double) actual[i] - expected[i]);
            if (Double.isNaN(d)) return Double.POSITIVE_INFINITY;
            num = Math.max(num, d);
            den = Math.max(den, Math.abs(expected[i]));
        }
        return den == 0 ? num : num / den;
    }

    /** Cosine similarity of two equally long vectors. */
    public static double cosine(float[] a, float[] b) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return ab / Math.sqrt(aa * bb);
    }
}
