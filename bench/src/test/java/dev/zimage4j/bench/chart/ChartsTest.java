package dev.zimage4j.bench.chart;

import dev.zimage4j.png.PngImage;
import dev.zimage4j.png.PngReader;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Charts are drawn where they should be and survive the PNG round trip. */
class ChartsTest {

    @Test
    void everyPrintableAsciiCharacterHasItsOwnGlyph() {
        Set<String> seen = new HashSet<>();
        int[] unknown = BitmapFont.glyph('\u0001');
        for (char c = ' '; c <= '~'; c++) {
            if (Character.isLowerCase(c)) continue; // drawn with the upper-case glyph
            if ("{}|\\^`$&~".indexOf(c) >= 0) continue; // not used in labels: drawn as '?'
            int[] g = BitmapFont.glyph(c);
            if (c != '?') assertNotEquals(java.util.Arrays.toString(unknown), java.util.Arrays.toString(g), "no glyph for '" + c + "'");
            assertTrue(seen.add(java.util.Arrays.toString(g)), "glyph of '" + c + "' duplicates another");
        }
        assertEquals(java.util.Arrays.toString(BitmapFont.glyph('A')), java.util.Arrays.toString(BitmapFont.glyph('a')));
    }

    @Test
    void textInksExactlyTheGlyphPixels() {
        Raster r = new Raster(40, 20, 0xffffff);
        r.text(1, 2, "1", 0x000000, 2);
        int[] g = BitmapFont.glyph('1');
        for (int y = 0; y < 7; y++)
            for (int x = 0; x < 5; x++) {
                boolean ink = (g[y] >> (4 - x) & 1) != 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        assertEquals(ink ? 0x000000 : 0xffffff, r.get(1 + 2 * x + dx, 2 + 2 * y + dy), "pixel " + x + "," + y);
            }
    }

    @Test
    void barLengthsAreProportionalToValues() {
        Raster r = Charts.bars("t", "ms", List.of("a"), List.of(new Charts.Row("short", 100), new Charts.Row("long", 400)));
        int[] lengths = barLengths(r, Charts.PALETTE[0]);
        assertEquals(2, lengths.length, "two bars");
        assertEquals(4.0, (double) lengths[1] / lengths[0], 0.05, "400 is four times 100");
        PngImage png = PngReader.decode(r.toPng("test"));
        assertEquals(r.width(), png.width());
        assertEquals(r.height(), png.height());
        for (int y = 0; y < r.height(); y++)
            for (int x = 0; x < r.width(); x++) {
                int i = (y * r.width() + x) * 3;
                int c = (png.rgb()[i] & 0xff) << 16 | (png.rgb()[i + 1] & 0xff) << 8 | png.rgb()[i + 2] & 0xff;
                if (c != r.get(x, y)) throw new AssertionError("PNG pixel " + x + "," + y + " differs");
            }
    }

    @Test
    void groupedBarsDrawOneColourPerSeriesAndSkipMissingValues() {
        Raster r = Charts.bars("t", "ms", List.of("with", "without"),
                List.of(new Charts.Row("x", 10, 20), new Charts.Row("y", 30, Double.NaN)));
        assertEquals(2, barLengths(r, Charts.PALETTE[0]).length);
        assertEquals(1, barLengths(r, Charts.PALETTE[1]).length, "NaN draws no bar");
        assertThrows(IllegalArgumentException.class, () -> Charts.bars("t", "ms", List.of("a", "b"), List.of(new Charts.Row("x", 1))));
    }

    @Test
    void histogramCountsEverySample() {
        double[] samples = {10, 11, 11, 12, 12, 12, 13, 20};
        Raster r = Charts.histogram("t", "ms", samples, 10, List.of(new Charts.Marker("P50", 12, Charts.PALETTE[2])));
        // the tallest bar (three samples at 12) is three times the height of a one-sample bar
        List<Integer> heights = columnHeights(r, Charts.PALETTE[0]);
        int max = heights.stream().mapToInt(Integer::intValue).max().orElseThrow();
        int min = heights.stream().mapToInt(Integer::intValue).min().orElseThrow();
        assertEquals(3.0, (double) max / min, 0.05);
    }

    @Test
    void niceStepsAreOneTwoOrFiveTimesAPowerOfTen() {
        assertEquals(1, Charts.niceStep(0.9), 1e-12);
        assertEquals(2, Charts.niceStep(1.5), 1e-12);
        assertEquals(50, Charts.niceStep(31), 1e-12);
        assertEquals(0.5, Charts.niceStep(0.31), 1e-12);
    }

    /** Lengths of the horizontal runs of {@code color} on distinct bars (one run per bar, measured on its middle row). */
    private static int[] barLengths(Raster r, int color) {
        List<Integer> runs = new java.util.ArrayList<>();
        boolean inBar = false;
        for (int y = 0; y < r.height(); y++) {
            int run = 0, best = 0;
            for (int x = 0; x < r.width(); x++) {
                run = r.get(x, y) == color ? run + 1 : 0;
                best = Math.max(best, run);
            }
            if (best > 20 && !inBar) runs.add(best);
            inBar = best > 20;
        }
        return runs.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Heights of the vertical runs of {@code color}, one per histogram bar. */
    private static List<Integer> columnHeights(Raster r, int color) {
        List<Integer> heights = new java.util.ArrayList<>();
        int last = -1;
        for (int x = 0; x < r.width(); x++) {
            int h = 0;
            for (int y = 0; y < r.height(); y++) if (r.get(x, y) == color) h++;
            if (h > 0 && h != last) heights.add(h);
            last = h;
        }
        return heights;
    }
}
