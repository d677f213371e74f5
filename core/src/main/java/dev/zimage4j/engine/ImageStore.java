package dev.zimage4j.engine;

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
import java.util.LinkedHashMap;
import java.util.Map;

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
     * PNG encoding of an image, with its prompt and seed as text metadata: the one place images become
     * bytes (the project's {@link PngWriter}, which needs no java.desktop and so also runs inside the
     * shutdown hook, where the server finishes its last job on SIGTERM).
     */
    public static byte[] encodePng(GeneratedImage image) {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("Software", "zimage4j");
        if (image.request() != null) {
            text.put("prompt", image.request().prompt());
            if (!image.request().negativePrompt().isEmpty()) text.put("negative_prompt", image.request().negativePrompt());
            text.put("steps", Integer.toString(image.request().steps()));
            text.put("guidance", Double.toString(image.request().guidance()));
        }
        text.put("seed", Long.toString(image.seed()));
        return new PngWriter().encode(image.width(), image.height(), image.rgb(), text);
    }
}
