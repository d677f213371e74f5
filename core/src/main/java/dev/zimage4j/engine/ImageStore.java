package dev.zimage4j.engine;

import dev.zimage4j.cli.GenerateCommand;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.png.PngWriter;

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

    /** Encodes {@code image} of model {@code modelId} as PNG and stores it atomically as {@code name}; returns the PNG bytes. */
    public byte[] write(String name, GeneratedImage image, String modelId) throws IOException {
        if (!NAME.matcher(name).matches()) throw new IllegalArgumentException("bad image name " + name);
        byte[] png = encodePng(image, modelId);
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
     * PNG encoding of an image, with the same text metadata as {@code zimage generate} writes (so a file from
     * the server and one from the CLI are byte for byte the same): the one place images become bytes. The
     * project's {@link PngWriter} needs no java.desktop, so this also runs inside the shutdown hook, where
     * the server finishes its last job on SIGTERM.
     */
    public static byte[] encodePng(GeneratedImage image, String modelId) {
        return new PngWriter().encode(image.width(), image.height(), image.rgb(), GenerateCommand.metadata(image, modelId));
    }
}
