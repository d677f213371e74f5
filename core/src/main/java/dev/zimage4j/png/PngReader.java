package dev.zimage4j.png;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Reads non-interlaced PNGs of bit depth 8 — greyscale, RGB, palette, grey+alpha, RGBA — into 8-bit RGB
 * (alpha dropped, as {@code PIL.Image.convert("RGB")} does), with every filter type, plus their text chunks.
 * Enough for img2img inputs and for reading back what {@link PngWriter} writes; anything else is a
 * {@link PngException} saying what is unsupported.
 */
public final class PngReader {
    /** Refuse images beyond this many pixels per side (a corrupt header must not allocate gigabytes). */
    public static final int MAX_SIDE = 16384;
    /** Refuse compressed text chunks that inflate beyond this. */
    private static final long MAX_TEXT = 1 << 20;

    private PngReader() {
    }

    /** Reads a PNG file. */
    public static PngImage read(Path file) throws IOException {
        try {
            return decode(Files.readAllBytes(file));
        } catch (PngException e) {
            throw new PngException(file + ": " + e.getMessage());
        }
    }

    /** Decodes a PNG held in memory. */
    public static PngImage decode(byte[] png) {
        if (png.length < 8 || !Arrays.equals(Arrays.copyOf(png, 8), PngWriter.SIGNATURE))
            throw new PngException("not a PNG file (bad signature)");
        int pos = 8;
        int width = 0, height = 0, colourType = -1;
        byte[] palette = null;
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        Map<String, String> text = new LinkedHashMap<>();
        boolean ended = false;
        while (!ended) {
            if (pos + 12 > png.length) throw new PngException("truncated: chunk header at byte " + pos + " runs past the end");
            long length = readInt(png, pos) & 0xffffffffL;
            String type = new String(png, pos + 4, 4, StandardCharsets.ISO_8859_1);
            if (length > png.length - pos - 12) throw new PngException("truncated: " + type + " chunk of " + length + " bytes runs past the end");
            int data = pos + 8, n = (int) length;
            CRC32 crc = new CRC32();
            crc.update(png, pos + 4, 4 + n);
            if ((int) crc.getValue() != readInt(png, data + n)) throw new PngException(type + " chunk at byte " + pos + " has a bad CRC");
            pos = data + n + 4;
            if (width == 0 && !type.equals("IHDR")) throw new PngException("the first chunk is " + type + ", not IHDR");
            switch (type) {
                case "IHDR" -> {
                    if (n != 13) throw new PngException("IHDR has " + n + " bytes, not 13");
                    width = readInt(png, data);
                    height = readInt(png, data + 4);
                    int depth = png[data + 8], compression = png[data + 10], filterMethod = png[data + 11], interlace = png[data + 12];
                    colourType = png[data + 9];
                    if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE)
                        throw new PngException("image size " + width + "×" + height + " is outside 1.." + MAX_SIDE);
                    if (depth != 8) throw new PngException("bit depth " + depth + " is not supported (only 8)");
                    if (colourType != 0 && colourType != 2 && colourType != 3 && colourType != 4 && colourType != 6)
                        throw new PngException("colour type " + colourType + " is invalid");
                    if (compression != 0 || filterMethod != 0) throw new PngException("unknown compression or filter method");
                    if (interlace != 0) throw new PngException("interlaced (Adam7) PNGs are not supported");
                }
                case "PLTE" -> palette = Arrays.copyOfRange(png, data, data + n);
                case "IDAT" -> idat.write(png, data, n);
                case "IEND" -> ended = true;
                case "tEXt" -> {
                    int z = indexOf(png, data, data + n, 0, "tEXt");
                    text.put(latin1(png, data, z), latin1(png, z + 1, data + n));
                }
                case "zTXt" -> {
                    int z = indexOf(png, data, data + n, 0, "zTXt");
                    text.put(latin1(png, data, z), new String(inflate(Arrays.copyOfRange(png, z + 2, data + n), MAX_TEXT, "zTXt"), StandardCharsets.ISO_8859_1));
                }
                case "iTXt" -> {
                    int z = indexOf(png, data, data + n, 0, "iTXt");
                    boolean compressed = png[z + 1] != 0;
                    int lang = indexOf(png, z + 3, data + n, 0, "iTXt");
                    int translated = indexOf(png, lang + 1, data + n, 0, "iTXt");
                    byte[] body = Arrays.copyOfRange(png, translated + 1, data + n);
                    text.put(latin1(png, data, z), new String(compressed ? inflate(body, MAX_TEXT, "iTXt") : body, StandardCharsets.UTF_8));
                }
                default -> {
                    if (Character.isUpperCase(type.charAt(0))) throw new PngException("unknown critical chunk " + type);
                }
            }
        }
        if (idat.size() == 0) throw new PngException("no IDAT chunk");
        int channels = switch (colourType) {
            case 0, 3 -> 1;
            case 4 -> 2;
            case 2 -> 3;
            default -> 4;
        };
        if (colourType == 3 && palette == null) throw new PngException("palette image without a PLTE chunk");
        int stride = width * channels;
        byte[] raw = inflate(idat.toByteArray(), (long) (stride + 1) * height, "image data");
        if (raw.length < (long) (stride + 1) * height)
            throw new PngException("image data holds " + raw.length + " bytes, " + (long) (stride + 1) * height + " needed");
        byte[] pixels = unfilter(raw, width, height, channels);
        return new PngImage(width, height, toRgb(pixels, width * height, colourType, palette), text);
    }

    private static byte[] unfilter(byte[] raw, int width, int height, int bpp) {
        int stride = width * bpp;
        byte[] out = new byte[stride * height];
        for (int y = 0; y < height; y++) {
            int f = raw[y * (stride + 1)] & 0xff, in = y * (stride + 1) + 1, row = y * stride, prev = row - stride;
            for (int i = 0; i < stride; i++) {
                int x = raw[in + i] & 0xff;
                int a = i >= bpp ? out[row + i - bpp] & 0xff : 0;
                int b = y > 0 ? out[prev + i] & 0xff : 0;
                int c = y > 0 && i >= bpp ? out[prev + i - bpp] & 0xff : 0;
                out[row + i] = (byte) switch (f) {
                    case 0 -> x;
                    case 1 -> x + a;
                    case 2 -> x + b;
                    case 3 -> x + ((a + b) >>> 1);
                    case 4 -> x + PngWriter.paeth(a, b, c);
                    default -> throw new PngException("row " + y + " has unknown filter type " + f);
                };
            }
        }
        return out;
    }

    private static byte[] toRgb(byte[] px, int count, int colourType, byte[] palette) {
        byte[] rgb = new byte[count * 3];
        for (int p = 0; p < count; p++) {
            switch (colourType) {
                case 0, 4 -> {
                    byte g = px[p * (colourType == 0 ? 1 : 2)];
                    rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = g;
                }
                case 2 -> System.arraycopy(px, 3 * p, rgb, 3 * p, 3);
                case 6 -> System.arraycopy(px, 4 * p, rgb, 3 * p, 3);
                default -> {
                    int idx = px[p] & 0xff;
                    if (3 * idx + 2 >= palette.length) throw new PngException("palette index " + idx + " beyond the " + palette.length / 3 + "-entry PLTE");
                    System.arraycopy(palette, 3 * idx, rgb, 3 * p, 3);
                }
            }
        }
        return rgb;
    }

    /** Inflates at most {@code limit} bytes (a zlib bomb must not exhaust memory). */
    private static byte[] inflate(byte[] z, long limit, String what) {
        Inflater inf = new Inflater();
        try {
            inf.setInput(z);
            ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, z.length * 3));
            byte[] buf = new byte[1 << 16];
            while (!inf.finished()) {
                int k = inf.inflate(buf);
                if (k == 0 && (inf.needsInput() || inf.needsDictionary())) throw new PngException("compressed data is truncated");
                out.write(buf, 0, k);
                if (out.size() > limit) throw new PngException(what + " inflates to more than the " + limit + " bytes it can hold");
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw new PngException("corrupt compressed data: " + e.getMessage());
        } finally {
            inf.end();
        }
    }

    private static int indexOf(byte[] b, int from, int to, int value, String chunk) {
        for (int i = from; i < to; i++) if (b[i] == value) return i;
        throw new PngException(chunk + " chunk lacks its NUL separator");
    }

    private static String latin1(byte[] b, int from, int to) {
        return new String(b, from, to - from, StandardCharsets.ISO_8859_1);
    }

    private static int readInt(byte[] b, int off) {
        return ((b[off] & 0xff) << 24) | ((b[off + 1] & 0xff) << 16) | ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
    }
}
