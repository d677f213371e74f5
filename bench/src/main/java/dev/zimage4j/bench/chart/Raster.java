package dev.zimage4j.bench.chart;

import dev.zimage4j.png.PngWriter;

import java.util.Map;

/** An RGB image in memory (3 bytes per pixel, rows top to bottom) with the few drawing operations charts need. */
public final class Raster {
    private final int width, height;
    private final byte[] rgb;

    /** A {@code width × height} raster filled with {@code background} (0xRRGGBB). */
    public Raster(int width, int height, int background) {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("raster size " + width + "x" + height + " must be positive");
        this.width = width;
        this.height = height;
        this.rgb = new byte[width * height * 3];
        fill(0, 0, width, height, background);
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    /** The colour at (x, y) as 0xRRGGBB. */
    public int get(int x, int y) {
        int i = (y * width + x) * 3;
        return (rgb[i] & 0xff) << 16 | (rgb[i + 1] & 0xff) << 8 | rgb[i + 2] & 0xff;
    }

    /** Sets one pixel; outside the raster does nothing. */
    public void set(int x, int y, int color) {
        if (x < 0 || y < 0 || x >= width || y >= height) return;
        int i = (y * width + x) * 3;
        rgb[i] = (byte) (color >>> 16);
        rgb[i + 1] = (byte) (color >>> 8);
        rgb[i + 2] = (byte) color;
    }

    /** Fills the rectangle [x, x+w) × [y, y+h), clipped to the raster. */
    public void fill(int x, int y, int w, int h, int color) {
        int x0 = Math.max(0, x), y0 = Math.max(0, y), x1 = Math.min(width, x + w), y1 = Math.min(height, y + h);
        for (int yy = y0; yy < y1; yy++) for (int xx = x0; xx < x1; xx++) set(xx, yy, color);
    }

    /** A horizontal line of length {@code w}. */
    public void hline(int x, int y, int w, int color) {
        fill(x, y, w, 1, color);
    }

    /** A vertical line of length {@code h}. */
    public void vline(int x, int y, int h, int color) {
        fill(x, y, 1, h, color);
    }

    /** A vertical dashed line (for markers over bars). */
    public void dashedVline(int x, int y, int h, int color) {
        for (int i = 0; i < h; i++) if ((i / 4) % 2 == 0) set(x, y + i, color);
    }

    /** Draws {@code text} with its top-left corner at (x, y), each font pixel {@code scale} image pixels square. */
    public void text(int x, int y, String text, int color, int scale) {
        int cx = x;
        for (int i = 0; i < text.length(); i++) {
            int[] g = BitmapFont.glyph(text.charAt(i));
            for (int row = 0; row < BitmapFont.HEIGHT; row++)
                for (int col = 0; col < BitmapFont.WIDTH; col++)
                    if ((g[row] >> (BitmapFont.WIDTH - 1 - col) & 1) != 0) fill(cx + col * scale, y + row * scale, scale, scale, color);
            cx += (BitmapFont.WIDTH + 1) * scale;
        }
    }

    /** Draws {@code text} right-aligned so that it ends at {@code xRight}. */
    public void textRight(int xRight, int y, String text, int color, int scale) {
        text(xRight - BitmapFont.textWidth(text, scale), y, text, color, scale);
    }

    /** Draws {@code text} centred on {@code xCentre}. */
    public void textCentred(int xCentre, int y, String text, int color, int scale) {
        text(xCentre - BitmapFont.textWidth(text, scale) / 2, y, text, color, scale);
    }

    /** The raster as a PNG file. */
    public byte[] toPng(String description) {
        return new PngWriter().encode(width, height, rgb, Map.of("Description", description, "Software", "zimage4j bench"));
    }
}
