package dev.zimage4j.png;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PngTest {

    private static byte[] image(int w, int h, long seed) {
        byte[] rgb = new byte[w * h * 3];
        Random r = new Random(seed);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) // smooth gradients plus noise: every filter wins somewhere
                    rgb[(y * w + x) * 3 + c] = (byte) (x * (c + 1) + y * 2 + (r.nextInt(4) == 0 ? r.nextInt(256) : 0));
        return rgb;
    }

    @Test
    void roundTripsWithEveryFilterAndAdaptive() {
        byte[] rgb = image(37, 23, 1);
        for (int f = -1; f < 5; f++) {
            byte[] png = new PngWriter(f).encode(37, 23, rgb, Map.of());
            PngImage back = PngReader.decode(png);
            assertEquals(37, back.width());
            assertEquals(23, back.height());
            assertArrayEquals(rgb, back.rgb(), "filter " + f);
        }
    }

    @Test
    void largeImagesDeflateInSegmentsThatFormOneValidZlibStream() throws Exception {
        int w = 700, h = 400; // 841 KB of filtered rows: several deflate segments
        assertTrue(w * 3 * h > 3 * PngWriter.DEFLATE_SEGMENT);
        byte[] rgb = image(w, h, 3);
        byte[] png = new PngWriter().encode(w, h, rgb, Map.of());
        assertArrayEquals(rgb, PngReader.decode(png).rgb());
        // the zlib stream alone, through the JDK's inflater (checks the Adler-32 and that only the last block is final)
        byte[] data = new byte[3 * PngWriter.DEFLATE_SEGMENT + 12345];
        new Random(5).nextBytes(data);
        for (int i = 0; i < data.length / 2; i++) data[i] = (byte) (i % 251); // a compressible half too
        java.util.zip.Inflater inf = new java.util.zip.Inflater();
        inf.setInput(PngWriter.deflate(data));
        byte[] back = new byte[data.length + 1];
        int n = inf.inflate(back);
        assertTrue(inf.finished(), "stream ends with the last segment");
        assertEquals(data.length, n);
        assertArrayEquals(data, java.util.Arrays.copyOf(back, n));
        inf.end();
    }

    @Test
    void theFileDoesNotDependOnTheNumberOfThreads() throws Exception {
        byte[] rgb = image(600, 500, 4);
        byte[] parallel = new PngWriter().encode(600, 500, rgb, Map.of());
        java.util.concurrent.ForkJoinPool one = new java.util.concurrent.ForkJoinPool(1);
        try {
            byte[] single = one.submit(() -> new PngWriter().encode(600, 500, rgb, Map.of())).get();
            assertArrayEquals(parallel, single);
        } finally {
            one.shutdown();
        }
    }

    @Test
    void textChunksRoundTripLatin1AndUnicode() {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("prompt", "a red fox in the snow, 35mm photo — “quoted”");
        text.put("negative_prompt", "blurry");
        text.put("seed", "42");
        text.put("Software", "zimage4j dev");
        text.put("caption", "一只狐狸 🦊");
        text.put("latin", "café über");
        byte[] png = new PngWriter().encode(4, 4, image(4, 4, 2), text);
        assertEquals(text, PngReader.decode(png).text());
        String raw = new String(png, StandardCharsets.ISO_8859_1);
        assertTrue(raw.contains("tEXtlatin\0caf\u00e9 \u00fcber"), "Latin-1 text is a tEXt chunk");
        assertTrue(raw.contains("iTXtcaption\0\0\0\0\0"), "other text is an uncompressed iTXt chunk");
    }

    @Test
    void rejectsBadKeywords() {
        assertThrows(IllegalArgumentException.class, () -> new PngWriter().encode(1, 1, new byte[3], Map.of("", "x")));
        assertThrows(IllegalArgumentException.class, () -> new PngWriter().encode(1, 1, new byte[3], Map.of("a".repeat(80), "x")));
        assertThrows(IllegalArgumentException.class, () -> new PngWriter().encode(1, 1, new byte[2], Map.of()));
    }

    // ---------------------------------------------------------------- hand-built files of other colour types

    private static byte[] chunk(String type, byte[] data) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[]{(byte) (data.length >>> 24), (byte) (data.length >>> 16), (byte) (data.length >>> 8), (byte) data.length});
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        b.writeBytes(t);
        b.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        int c = (int) crc.getValue();
        b.writeBytes(new byte[]{(byte) (c >>> 24), (byte) (c >>> 16), (byte) (c >>> 8), (byte) c});
        return b.toByteArray();
    }

    /** A PNG with unfiltered rows (filter byte 0) of the given colour type and extra chunks before IDAT. */
    private static byte[] build(int w, int h, int colourType, int interlace, byte[] pixels, byte[]... extra) {
        int bpp = switch (colourType) { case 0, 3 -> 1; case 4 -> 2; case 2 -> 3; default -> 4; };
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        for (int y = 0; y < h; y++) {
            raw.write(0);
            raw.write(pixels, y * w * bpp, w * bpp);
        }
        Deflater d = new Deflater();
        d.setInput(raw.toByteArray());
        d.finish();
        byte[] buf = new byte[65536];
        int n = d.deflate(buf);
        d.end();
        ByteArrayOutputStream f = new ByteArrayOutputStream();
        f.writeBytes(PngWriter.SIGNATURE);
        f.writeBytes(chunk("IHDR", new byte[]{0, 0, 0, (byte) w, 0, 0, 0, (byte) h, 8, (byte) colourType, 0, 0, (byte) interlace}));
        for (byte[] e : extra) f.writeBytes(e);
        f.writeBytes(chunk("IDAT", java.util.Arrays.copyOf(buf, n)));
        f.writeBytes(chunk("IEND", new byte[0]));
        return f.toByteArray();
    }

    @Test
    void readsGreyPaletteAndAlphaImagesAsRgb() {
        assertArrayEquals(new byte[]{7, 7, 7, 9, 9, 9}, PngReader.decode(build(2, 1, 0, 0, new byte[]{7, 9})).rgb());
        assertArrayEquals(new byte[]{7, 7, 7, 9, 9, 9}, PngReader.decode(build(2, 1, 4, 0, new byte[]{7, 1, 9, 2})).rgb());
        assertArrayEquals(new byte[]{1, 2, 3, 5, 6, 7}, PngReader.decode(build(2, 1, 6, 0, new byte[]{1, 2, 3, 4, 5, 6, 7, 8})).rgb());
        byte[] plte = chunk("PLTE", new byte[]{10, 11, 12, 20, 21, 22});
        assertArrayEquals(new byte[]{20, 21, 22, 10, 11, 12}, PngReader.decode(build(2, 1, 3, 0, new byte[]{1, 0}, plte)).rgb());
    }

    @Test
    void readsZtxtChunks() throws Exception {
        ByteArrayOutputStream z = new ByteArrayOutputStream();
        z.writeBytes("Comment\0\0".getBytes(StandardCharsets.ISO_8859_1));
        Deflater d = new Deflater();
        d.setInput("compressed comment".getBytes(StandardCharsets.ISO_8859_1));
        d.finish();
        byte[] buf = new byte[256];
        z.write(buf, 0, d.deflate(buf));
        d.end();
        assertEquals("compressed comment", PngReader.decode(build(1, 1, 0, 0, new byte[]{1}, chunk("zTXt", z.toByteArray()))).text().get("Comment"));
    }

    @Test
    void malformedFilesFailWithASpecificMessage() {
        byte[] good = new PngWriter().encode(3, 2, image(3, 2, 3), Map.of("k", "v"));
        assertTrue(assertThrows(PngException.class, () -> PngReader.decode(new byte[]{1, 2, 3})).getMessage().contains("signature"));
        byte[] badCrc = good.clone();
        badCrc[30] ^= 1; // inside IHDR's data
        assertTrue(assertThrows(PngException.class, () -> PngReader.decode(badCrc)).getMessage().contains("CRC"));
        byte[] truncated = java.util.Arrays.copyOf(good, good.length - 20);
        assertTrue(assertThrows(PngException.class, () -> PngReader.decode(truncated)).getMessage().contains("truncated"));
        assertTrue(assertThrows(PngException.class, () -> PngReader.decode(build(1, 1, 2, 1, new byte[3]))).getMessage().contains("interlaced"));
        assertTrue(assertThrows(PngException.class, () -> PngReader.decode(build(1, 1, 3, 0, new byte[1]))).getMessage().contains("PLTE"));
    }
}
