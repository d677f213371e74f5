package dev.zimage4j.engine;

import dev.zimage4j.pipeline.GeneratedImage;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;

/**
 * The output directory: finished images as PNG files, each written to a temporary file, forced to disk
 * and renamed into place, so a crash never leaves a half-written image under its final name.
 */
public final class ImageStore {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,100}\\.png");
    private final Path dir;

    public ImageStore(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir.toAbsolutePath().normalize());
    }

    public Path dir() {
        return dir;
    }

    /** Encodes {@code image} as PNG and stores it atomically as {@code name}; returns the PNG bytes. */
    public byte[] write(String name, GeneratedImage image) throws IOException {
        if (!NAME.matcher(name).matches()) throw new IllegalArgumentException("bad image name " + name);
        byte[] png = encodePng(image);
        Path tmp = dir.resolve("." + name + ".tmp");
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(png);
            while (b.hasRemaining()) c.write(b);
            c.force(true);
        }
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return png;
    }

    /** The stored image {@code name}; empty for a name that is not a plain image file name or does not exist. */
    public Optional<Path> find(String name) {
        if (name == null || !NAME.matcher(name).matches()) return Optional.empty();
        Path p = dir.resolve(name);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    /**
     * PNG encoding of an RGB image: the one place images become bytes. (A minimal 8-bit RGB writer,
     * filter type 0 and zlib; ImageIO is avoided because it cannot run inside a shutdown hook, where the
     * server finishes its last job on SIGTERM.)
     */
    public static byte[] encodePng(GeneratedImage image) throws IOException {
        int w = image.width(), h = image.height();
        byte[] rgb = image.rgb();
        byte[] raw = new byte[h * (1 + 3 * w)];
        for (int y = 0; y < h; y++) System.arraycopy(rgb, y * 3 * w, raw, y * (1 + 3 * w) + 1, 3 * w);
        ByteArrayOutputStream z = new ByteArrayOutputStream();
        Deflater d = new Deflater(6);
        try (DeflaterOutputStream dos = new DeflaterOutputStream(z, d)) {
            dos.write(raw);
        } finally {
            d.end();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        chunk(out, "IHDR", ihdr.array());
        chunk(out, "IDAT", z.toByteArray());
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }
}
