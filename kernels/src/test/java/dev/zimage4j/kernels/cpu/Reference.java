package dev.zimage4j.kernels.cpu;

/** Plain scalar reference implementations (double accumulation) of every backend op. */
final class Reference {
    private Reference() {
    }

    /** y[M,N] = x[M,K]·w[N,K]ᵀ (+ bias); also returns Σ|x·w| per output in {@code mag} for tolerances. */
    static double[] linear(float[] x, float[] w, float[] bias, int m, int n, int k, double[] mag) {
        double[] y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = bias == null ? 0 : bias[j], a = bias == null ? 0 : Math.abs(bias[j]);
                for (int p = 0; p < k; p++) {
                    double t = (double) x[i * k + p] * w[j * k + p];
                    s += t;
                    a += Math.abs(t);
                }
                y[i * n + j] = s;
                mag[i * n + j] = a;
            }
        return y;
    }

    static double silu(double v) {
        return v / (1 + Math.exp(-v));
    }

    /** Naive attention with the full score matrix. */
    static double[] attention(float[] q, float[] k, float[] v, int sq, int sk, int heads, int kvHeads, int d,
                              float scale, boolean causal, int validKeys) {
        double[] out = new double[sq * heads * d];
        int group = heads / kvHeads;
        for (int h = 0; h < heads; h++) {
            int kh = h / group;
            for (int i = 0; i < sq; i++) {
                double[] s = new double[sk];
                double mx = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < sk; j++) {
                    if (j >= validKeys || (causal && j > i)) {
                        s[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int e = 0; e < d; e++) dot += (double) q[i * heads * d + h * d + e] * k[j * kvHeads * d + kh * d + e];
                    s[j] = dot * scale;
                    mx = Math.max(mx, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < sk; j++) {
                    s[j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - mx);
                    sum += s[j];
                }
                for (int e = 0; e < d; e++) {
                    double o = 0;
                    for (int j = 0; j < sk; j++) o += s[j] * v[j * kvHeads * d + kh * d + e];
                    out[i * heads * d + h * d + e] = o / sum;
                }
            }
        }
        return out;
    }

    static double[] rmsNorm(float[] x, float[] w, float[] scale, int rows, int d, float eps) {
        double[] y = new double[rows * d];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int j = 0; j < d; j++) ss += (double) x[r * d + j] * x[r * d + j];
            double inv = 1 / Math.sqrt(ss / d + eps);
            for (int j = 0; j < d; j++) y[r * d + j] = x[r * d + j] * inv * w[j] * (scale == null ? 1 : 1 + (double) scale[j]);
        }
        return y;
    }

    static double[] layerNorm(float[] x, float[] scale, int rows, int d, float eps) {
        double[] y = new double[rows * d];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int j = 0; j < d; j++) mean += x[r * d + j];
            mean /= d;
            double var = 0;
            for (int j = 0; j < d; j++) var += (x[r * d + j] - mean) * (x[r * d + j] - mean);
            double inv = 1 / Math.sqrt(var / d + eps);
            for (int j = 0; j < d; j++) y[r * d + j] = (x[r * d + j] - mean) * inv * (scale == null ? 1 : 1 + (double) scale[j]);
        }
        return y;
    }

    static double[] groupNorm(float[] x, int c, int hw, int groups, float[] gamma, float[] beta, float eps, boolean silu) {
        double[] y = new double[c * hw];
        int per = c / groups;
        for (int g = 0; g < groups; g++) {
            double mean = 0;
            for (int i = g * per * hw; i < (g + 1) * per * hw; i++) mean += x[i];
            mean /= per * hw;
            double var = 0;
            for (int i = g * per * hw; i < (g + 1) * per * hw; i++) var += (x[i] - mean) * (x[i] - mean);
            var /= per * hw;
            for (int ch = g * per; ch < (g + 1) * per; ch++)
                for (int i = 0; i < hw; i++) {
                    double v = (x[ch * hw + i] - mean) / Math.sqrt(var + eps) * gamma[ch] + beta[ch];
                    y[ch * hw + i] = silu ? silu(v) : v;
                }
        }
        return y;
    }

    static double[] conv2d(float[] x, float[] w, float[] bias, int cin, int h, int wd, int cout, int k, int stride,
                           int pt, int pl, int oh, int ow) {
        double[] y = new double[cout * oh * ow];
        for (int co = 0; co < cout; co++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = bias == null ? 0 : bias[co];
                    for (int ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * stride + ky - pt, ix = ox * stride + kx - pl;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                s += (double) x[(ci * h + iy) * wd + ix] * w[((co * cin + ci) * k + ky) * k + kx];
                            }
                    y[(co * oh + oy) * ow + ox] = s;
                }
        return y;
    }
}
