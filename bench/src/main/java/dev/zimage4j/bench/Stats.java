package dev.zimage4j.bench;

import java.util.Arrays;
import java.util.Collection;

/** Order statistics of a sample (nearest-rank percentiles, as the anchors' P50/P95 are). */
record Stats(int n, double min, double p50, double p95, double max, double mean) {

    static Stats of(double[] samples) {
        if (samples.length == 0) return new Stats(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        double[] s = samples.clone();
        Arrays.sort(s);
        return new Stats(s.length, s[0], percentile(s, 50), percentile(s, 95), s[s.length - 1], Arrays.stream(s).average().orElseThrow());
    }

    static Stats of(Collection<Double> samples) {
        return of(samples.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** Nearest-rank percentile {@code p} of an ascending sample. */
    static double percentile(double[] sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    static double median(double[] samples) {
        return of(samples).p50();
    }
}
