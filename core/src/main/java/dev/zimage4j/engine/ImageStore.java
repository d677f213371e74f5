package dev.zimage4j.engine;

import dev.zimage4j.pipeline.GeneratedImage;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.regex.Pattern;

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

    /** PNG encoding of an RGB image: the one place images become bytes. */
    public static byte[] encodePng(GeneratedImage image) throws IOException {
        int w = image.width(), h = image.height();
        byte[] rgb = image.rgb();
        BufferedImage bi = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] px = new int[w * h];
        for (int i = 0; i < px.length; i++)
            px[i] = (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | (rgb[3 * i + 2] & 0xff);
        bi.setRGB(0, 0, w, h, px, 0, w);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(bi, "png", out);
        return out.toByteArray();
    }
}
