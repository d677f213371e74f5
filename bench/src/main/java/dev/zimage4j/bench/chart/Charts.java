package dev.zimage4j.bench.chart;

import java.util.List;

/**
 * The benchmark report's charts, rasterised without {@code java.desktop}: horizontal bar charts (one or more
 * series per row) and a latency histogram with percentile markers. Text is drawn with {@link BitmapFont} at
 * twice its size for labels and three times for titles.
 */
public final class Charts {
    static final int WHITE = 0xffffff, INK = 0x202020, GRID = 0xdddddd, AXIS = 0x606060;
    /** Series colours: blue, orange, green, red, purple. */
    public static final int[] PALETTE = {0x3b6fb6, 0xe08a1e, 0x3a9a4a, 0xc8413a, 0x7b52ab};
    private static final int LABEL = 2, TITLE = 3, MARGIN = 20, WIDTH = 1000;
    private static final int GLYPH_H = BitmapFont.HEIGHT;

    private Charts() {
    }

    /** One row of a bar chart: a label and one value per series (NaN = no bar). */
    public record Row(String label, double... values) {
    }

    /** A vertical marker on a histogram. */
    public record Marker(String label, double value, int color) {
    }

    /**
     * Horizontal bars: one group per row, one bar per series, the value printed after each bar.
     *
     * @param series names of the series (a legend is drawn when there is more than one)
     */
    public static Raster bars(String title, String unit, List<String> series, List<Row> rows) {
        if (rows.isEmpty()) throw new IllegalArgumentException("bar chart '" + title + "' has no rows");
        int nSeries = series.size();
        for (Row r : rows)
            if (r.values().length != nSeries)
                throw new IllegalArgumentException("row '" + r.label() + "' has " + r.values().length + " values for " + nSeries + " series");
        int labelW = rows.stream().mapToInt(r -> BitmapFont.textWidth(r.label(), LABEL)).max().orElse(0);
        double max = rows.stream().flatMapToDouble(r -> java.util.Arrays.stream(r.values())).filter(v -> !Double.isNaN(v)).max().orElse(1);
        if (!(max > 0)) max = 1;
        int barH = 18, rowGap = 14, legendH = nSeries > 1 ? GLYPH_H * LABEL + 14 : 0;
        int plotX = MARGIN + labelW + 12, valueRoom = BitmapFont.textWidth("00000.0 " + unit, LABEL) + 8;
        int plotW = WIDTH - plotX - MARGIN - valueRoom;
        int top = MARGIN + GLYPH_H * TITLE + 16 + legendH;
        int rowH = nSeries * barH + rowGap;
        int axisY = top + rows.size() * rowH;
        int height = axisY + GLYPH_H * LABEL + 12 + MARGIN;
        Raster r = new Raster(WIDTH, height, WHITE);
        title(r, title);
        if (nSeries > 1) {
            int lx = plotX, ly = MARGIN + GLYPH_H * TITLE + 10;
            for (int s = 0; s < nSeries; s++) {
                r.fill(lx, ly, 14, 14, PALETTE[s % PALETTE.length]);
                r.text(lx + 20, ly, series.get(s), INK, LABEL);
                lx += 20 + BitmapFont.textWidth(series.get(s), LABEL) + 24;
            }
        }
        double step = niceStep(max / 5);
        double axisMax = Math.ceil(max / step) * step;
        for (double t = 0; t <= axisMax + step / 2; t += step) {
            int x = plotX + (int) Math.round(t / axisMax * plotW);
            r.vline(x, top - 4, axisY - top + 4, GRID);
            r.textCentred(x, axisY + 6, format(t), AXIS, LABEL);
        }
        r.textRight(WIDTH - MARGIN, axisY + 6, unit, AXIS, LABEL);
        for (int i = 0; i < rows.size(); i++) {
            Row row = rows.get(i);
            int y = top + i * rowH;
            r.textRight(plotX - 12, y + (nSeries * barH - GLYPH_H * LABEL) / 2, row.label(), INK, LABEL);
            for (int s = 0; s < nSeries; s++) {
                double v = row.values()[s];
                if (Double.isNaN(v)) continue;
                int w = Math.max(1, (int) Math.round(v / axisMax * plotW));
                int by = y + s * barH;
                r.fill(plotX, by + 1, w, barH - 2, PALETTE[s % PALETTE.length]);
                r.text(plotX + w + 6, by + (barH - GLYPH_H * LABEL) / 2, format(v) + " " + unit, INK, LABEL);
            }
        }
        r.hline(plotX, axisY, plotW + 1, AXIS);
        r.vline(plotX, top - 4, axisY - top + 5, AXIS);
        return r;
    }

    /**
     * A histogram of {@code samples} in {@code bins} equal bins from the smallest to the largest sample,
     * with vertical markers (e.g. P50, P95, max).
     */
    public static Raster histogram(String title, String unit, double[] samples, int bins, List<Marker> markers) {
        if (samples.length == 0) throw new IllegalArgumentException("histogram '" + title + "' has no samples");
        double lo = java.util.Arrays.stream(samples).min().orElseThrow(), hi = java.util.Arrays.stream(samples).max().orElseThrow();
        double step = niceStep(Math.max(hi - lo, 1e-9) / bins);
        double x0 = Math.floor(lo / step) * step;
        int nBins = Math.max(1, (int) Math.ceil((hi - x0) / step + 1e-9));
        if (x0 + nBins * step <= hi) nBins++;
        int[] counts = new int[nBins];
        for (double v : samples) counts[Math.min(nBins - 1, (int) ((v - x0) / step))]++;
        int maxCount = java.util.Arrays.stream(counts).max().orElse(1);
        int height = 520, plotX = MARGIN + BitmapFont.textWidth("000", LABEL) + 14;
        int plotW = WIDTH - plotX - MARGIN - BitmapFont.textWidth("00000", LABEL) / 2; // room for the last tick label
        int top = MARGIN + GLYPH_H * TITLE + 16 + markers.size() * (GLYPH_H * LABEL + 6);
        int axisY = height - MARGIN - 2 * (GLYPH_H * LABEL + 8);
        int plotH = axisY - top;
        Raster r = new Raster(WIDTH, height, WHITE);
        title(r, title);
        double xMax = x0 + nBins * step;
        java.util.function.DoubleToIntFunction px = v -> plotX + (int) Math.round((v - x0) / (xMax - x0) * plotW);
        double cStep = Math.max(1, niceStep(maxCount / 4.0));
        double cMax = Math.ceil(maxCount / cStep) * cStep;
        for (double c = 0; c <= cMax + cStep / 2; c += cStep) {
            int y = axisY - (int) Math.round(c / cMax * plotH);
            r.hline(plotX, y, plotW, GRID);
            r.textRight(plotX - 8, y - GLYPH_H * LABEL / 2, format(c), AXIS, LABEL);
        }
        for (int b = 0; b < nBins; b++) {
            int xa = px.applyAsInt(x0 + b * step), xb = px.applyAsInt(x0 + (b + 1) * step);
            int h = (int) Math.round(counts[b] / cMax * plotH);
            r.fill(xa + 1, axisY - h, Math.max(1, xb - xa - 1), h, PALETTE[0]);
        }
        int labelEvery = Math.max(1, (int) Math.ceil(nBins / 8.0));
        for (int b = 0; b <= nBins; b += labelEvery) {
            int x = px.applyAsInt(x0 + b * step);
            r.vline(x, axisY, 5, AXIS);
            r.textCentred(x, axisY + 8, format(x0 + b * step), AXIS, LABEL);
        }
        r.textCentred(plotX + plotW / 2, axisY + 8 + GLYPH_H * LABEL + 8, unit + "  (n = " + samples.length + ")", INK, LABEL);
        r.hline(plotX, axisY, plotW + 1, AXIS);
        r.vline(plotX, top, plotH + 1, AXIS);
        for (int m = 0; m < markers.size(); m++) {
            Marker mk = markers.get(m);
            int x = Math.min(plotX + plotW, px.applyAsInt(mk.value()));
            r.dashedVline(x, top, plotH, mk.color());
            r.dashedVline(x + 1, top, plotH, mk.color());
            int ly = MARGIN + GLYPH_H * TITLE + 12 + m * (GLYPH_H * LABEL + 6);
            String text = mk.label() + " " + format(mk.value()) + " " + unit;
            int tx = Math.min(Math.max(MARGIN, x - BitmapFont.textWidth(text, LABEL) / 2), WIDTH - MARGIN - BitmapFont.textWidth(text, LABEL));
            r.text(tx, ly, text, mk.color(), LABEL);
        }
        return r;
    }

    /** Draws the title at three times the font size, or twice when that would not fit the width. */
    private static void title(Raster r, String title) {
        int scale = BitmapFont.textWidth(title, TITLE) <= WIDTH - 2 * MARGIN ? TITLE : LABEL;
        r.text(MARGIN, MARGIN + (TITLE - scale) * GLYPH_H / 2, title, INK, scale);
    }

    /** A 1, 2 or 5 × 10^k step not smaller than {@code rough}. */
    static double niceStep(double rough) {
        if (!(rough > 0)) return 1;
        double p = Math.pow(10, Math.floor(Math.log10(rough)));
        for (double m : new double[]{1, 2, 5, 10}) if (m * p >= rough * 0.999) return m * p;
        return 10 * p;
    }

    /** A value with as many decimals as its size needs (3 significant figures at most for small values). */
    public static String format(double v) {
        double a = Math.abs(v);
        if (a >= 100 || v == Math.rint(v)) return String.format(java.util.Locale.ROOT, "%.0f", v);
        if (a >= 10) return String.format(java.util.Locale.ROOT, "%.1f", v);
        return String.format(java.util.Locale.ROOT, "%.2f", v);
    }
}
