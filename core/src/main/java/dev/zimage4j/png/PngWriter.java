package dev.zimage4j.png;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.zip.Adler32;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * Writes 8-bit RGB PNGs (ISO/IEC 15948) with text metadata, using only {@code java.util.zip} (no
 * {@code java.desktop}, which trimmed runtimes lack).
 *
 * <p>Chunks: IHDR, one tEXt per entry whose keyword and text are Latin-1 (iTXt with UTF-8 text otherwise),
 * IDAT (zlib stream split into 64 KiB chunks), IEND. Each row gets the filter (None, Sub, Up, Average,
 * Paeth) with the smallest sum of absolute filtered bytes, the usual heuristic.
 *
 * <p>A 1024² image is 3 MiB of pixels: filtering and deflating it on one core takes a quarter of a second, a
 * fifth of a warm GPU request. Both run in parallel on the common pool: rows are filtered in bands, and the
 * filtered bytes are deflated in fixed segments the way pigz does — each segment a raw deflate stream primed
 * with the previous 32 KiB as its dictionary and ended by a sync flush (byte-aligned, not final), the last one
 * finished; concatenated under one zlib header and the Adler-32 of all the data they form one valid zlib
 * stream. Segments are fixed in size, so the file does not depend on the number of threads.
 */
public final class PngWriter {
    static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final int IDAT_CHUNK = 1 << 16;
    /** Filter choice: -1 = adaptive (per row), 0..4 = that filter for every row (tests). */
    private final int fixedFilter;

    /** A writer choosing filters per row. */
    public PngWriter() {
        this(-1);
    }

    PngWriter(int fixedFilter) {
        this.fixedFilter = fixedFilter;
    }

    /** The PNG file for {@code rgb} ({@code width·height·3} bytes, row-major) with {@code text} metadata. */
    public byte[] encode(int width, int height, byte[] rgb, Map<String, String> text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(rgb.length / 2 + 1024);
        try {
            write(out, width, height, rgb, text);
        } catch (IOException e) {
            throw new IllegalStateException(e); // a ByteArrayOutputStream does not fail
        }
        return out.toByteArray();
    }

    /** Writes the PNG to {@code out}. */
    public void write(OutputStream out, int width, int height, byte[] rgb, Map<String, String> text) throws IOException {
        if (width < 1 || height < 1) throw new IllegalArgumentException("image size " + width + "×" + height + " must be positive");
        if (rgb.length != (long) width * height * 3)
            throw new IllegalArgumentException("rgb has " + rgb.length + " bytes, a " + width + "×" + height + " RGB image needs " + (long) width * height * 3);
        out.write(SIGNATURE);
        byte[] ihdr = new byte[13];
        putInt(ihdr, 0, width);
        putInt(ihdr, 4, height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type: truecolour
        // compression 0, filter method 0, interlace 0
        chunk(out, "IHDR", ihdr);
        for (var e : text.entrySet()) textChunk(out, e.getKey(), e.getValue());
        byte[] z = deflate(filter(width, height, rgb));
        for (int off = 0; off < z.length; off += IDAT_CHUNK)
            chunk(out, "IDAT", java.util.Arrays.copyOfRange(z, off, Math.min(z.length, off + IDAT_CHUNK)));
        chunk(out, "IEND", new byte[0]);
    }

    private static void textChunk(OutputStream out, String keyword, String text) throws IOException {
        if (keyword.isEmpty() || keyword.length() > 79 || !isLatin1(keyword) || keyword.startsWith(" ") || keyword.endsWith(" ")
                || keyword.contains("  ") || keyword.chars().anyMatch(c -> c < 32 || (c > 126 && c < 161)))
            throw new IllegalArgumentException("PNG text keyword '" + keyword + "' must be 1-79 printable Latin-1 characters without leading, trailing or double spaces");
        if (text.indexOf('\0') >= 0) throw new IllegalArgumentException("PNG text for '" + keyword + "' must not contain NUL");
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(keyword.getBytes(StandardCharsets.ISO_8859_1));
        b.write(0);
        if (isLatin1(text)) {
            b.write(text.getBytes(StandardCharsets.ISO_8859_1));
            chunk(out, "tEXt", b.toByteArray());
        } else {
            b.write(new byte[]{0, 0}); // compression flag, method: uncompressed
            b.write(0);                // empty language tag
            b.write(0);                // empty translated keyword
            b.write(text.getBytes(StandardCharsets.UTF_8));
            chunk(out, "iTXt", b.toByteArray());
        }
    }

    private static boolean isLatin1(String s) {
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) > 0xff) return false;
        return true;
    }

    /** Rows per band filtered by one task. */
    private static final int FILTER_BAND = 32;

    /** Rows prefixed with their filter byte; bands of rows in parallel (a row's filters read only it and the row above). */
    private byte[] filter(int width, int height, byte[] rgb) {
        int stride = width * 3;
        byte[] out = new byte[(stride + 1) * height];
        IntStream.range(0, (height + FILTER_BAND - 1) / FILTER_BAND).parallel()
                .forEach(band -> filterRows(rgb, stride, band * FILTER_BAND, Math.min(height, (band + 1) * FILTER_BAND), out));
        return out;
    }

    private void filterRows(byte[] rgb, int stride, int y0, int y1, byte[] out) {
        byte[][] candidates = new byte[5][stride];
        for (int y = y0; y < y1; y++) {
            int row = y * stride, prev = row - stride;
            int best = fixedFilter, bestCost = Integer.MAX_VALUE;
            for (int f = 0; f < 5; f++) {
                if (fixedFilter >= 0 && f != fixedFilter) continue;
                byte[] c = candidates[f];
                int cost = 0;
                for (int i = 0; i < stride; i++) {
                    int x = rgb[row + i] & 0xff;
                    int a = i >= 3 ? rgb[row + i - 3] & 0xff : 0;
                    int b = y > 0 ? rgb[prev + i] & 0xff : 0;
                    int cc = y > 0 && i >= 3 ? rgb[prev + i - 3] & 0xff : 0;
                    int v = switch (f) {
                        case 0 -> x;
                        case 1 -> x - a;
                        case 2 -> x - b;
                        case 3 -> x - ((a + b) >>> 1);
                        default -> x - paeth(a, b, cc);
                    };
                    c[i] = (byte) v;
                    cost += Math.abs((byte) v);
                }
                if (cost < bestCost) {
                    bestCost = cost;
                    best = f;
                }
            }
            int o = y * (stride + 1);
            out[o] = (byte) best;
            System.arraycopy(candidates[best], 0, out, o + 1, stride);
        }
    }

    static int paeth(int a, int b, int c) {
        int p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }

    /** Bytes of filtered data per deflate segment (fixed: the output must not depend on the thread count). */
    static final int DEFLATE_SEGMENT = 1 << 18;
    /** Deflate's window: how much of the preceding data primes a segment. */
    private static final int WINDOW = 1 << 15;

    /** The zlib stream of {@code data} (default level), its segments deflated in parallel. */
    static byte[] deflate(byte[] data) {
        int segments = Math.max(1, (data.length + DEFLATE_SEGMENT - 1) / DEFLATE_SEGMENT);
        byte[][] parts = new byte[segments][];
        IntStream.range(0, segments).parallel().forEach(i -> parts[i] = deflateSegment(data, i, segments));
        Adler32 adler = new Adler32();
        adler.update(data);
        int size = 2 + 4;
        for (byte[] p : parts) size += p.length;
        byte[] out = new byte[size];
        out[0] = 0x78;        // CMF: deflate, 32 KiB window
        out[1] = (byte) 0x9c; // FLG: default level, no dictionary, header checksum
        int o = 2;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        putInt(out, o, (int) adler.getValue());
        return out;
    }

    /** Raw deflate of segment {@code i}: primed with the 32 KiB before it, sync-flushed unless it is the last. */
    private static byte[] deflateSegment(byte[] data, int i, int segments) {
        int start = i * DEFLATE_SEGMENT, end = Math.min(data.length, start + DEFLATE_SEGMENT);
        boolean last = i == segments - 1;
        Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
        try {
            if (start > 0) {
                int dict = Math.min(WINDOW, start);
                d.setDictionary(data, start - dict, dict);
            }
            d.setInput(data, start, end - start);
            ByteArrayOutputStream out = new ByteArrayOutputStream((end - start) / 2 + 64);
            byte[] buf = new byte[1 << 16];
            if (last) {
                d.finish();
                while (!d.finished()) out.write(buf, 0, d.deflate(buf));
            } else {
                int n; // SYNC_FLUSH: call again while it fills the buffer (Deflater#deflate(byte[], int, int, int))
                do {
                    n = d.deflate(buf, 0, buf.length, Deflater.SYNC_FLUSH);
                    out.write(buf, 0, n);
                } while (n == buf.length || !d.needsInput());
            }
            return out.toByteArray();
        } finally {
            d.end();
        }
    }

    private static void chunk(OutputStream out, String type, byte[] data) throws IOException {
        byte[] len = new byte[4];
        putInt(len, 0, data.length);
        out.write(len);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.write(t);
        out.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        byte[] c = new byte[4];
        putInt(c, 0, (int) crc.getValue());
        out.write(c);
    }

    private static void putInt(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 24);
        b[off + 1] = (byte) (v >>> 16);
        b[off + 2] = (byte) (v >>> 8);
        b[off + 3] = (byte) v;
    }
}
