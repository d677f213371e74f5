package dev.zimage4j.kernels.cuda;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Compiled kernels (cubins) kept on disk between processes, so a restarted server loads each kernel in
 * ~0.1 ms instead of JIT-compiling its PTX again (tens to hundreds of ms per kernel; cuda-notes §5).
 *
 * <p>An entry is keyed by a SHA-256 of everything that decides the machine code: the PTX text, the JIT
 * options, the driver version (its JIT compiler) and the device (compute capability and name). A different
 * driver or GPU simply misses. Each file holds a small header (magic, payload length, SHA-256 of the
 * payload) before the cubin; a file that is truncated, garbled or not an ELF image is deleted and treated
 * as a miss. Files are written to a temporary sibling, forced to disk and renamed into place, so readers
 * (including other processes) never see a partial entry. The cache never fails a load: any I/O problem is
 * logged and the caller compiles the PTX as if the cache were empty.
 *
 * <p>Location: system property {@code zimage.kernel.cache}, else environment variable
 * {@code ZIMAGE_KERNEL_CACHE}, else {@code $XDG_CACHE_HOME/zimage4j/kernels}, else
 * {@code ~/.cache/zimage4j/kernels}; the value {@code off} disables it. Entries are a few KB to a few
 * hundred KB each and the kernel set is finite; entries of an old driver are never read again and may be
 * deleted by hand.
 */
public final class KernelCache {
    private static final Logger LOG = Logger.getLogger(KernelCache.class.getName());
    /** Bumped whenever the file layout or the key derivation changes. */
    static final String FORMAT = "zimage4j-cubin-v1";
    private static final byte[] MAGIC = "ZKCUBIN1".getBytes(StandardCharsets.US_ASCII);
    private static final int HEADER = MAGIC.length + Long.BYTES + 32;
    private static final byte[] ELF = {0x7f, 'E', 'L', 'F'};

    /** A cache key: 64 hex digits of SHA-256. */
    public record Key(String hex) {
        public Key {
            if (!hex.matches("[0-9a-f]{64}")) throw new IllegalArgumentException("kernel cache key must be 64 hex digits, got " + hex);
        }
    }

    /** How the cache has been used in this process. */
    public record Counts(long hits, long misses, long stores, long corrupt) {
    }

    private final Path dir;
    private final AtomicLong hits = new AtomicLong(), misses = new AtomicLong(), stores = new AtomicLong(), corrupt = new AtomicLong();

    /** A cache in {@code dir} (created when the first entry is stored). */
    public KernelCache(Path dir) {
        this.dir = dir;
    }

    /** The cache this process uses, or empty when configured {@code off} (see the class comment). */
    public static Optional<KernelCache> fromSystem() {
        String v = System.getProperty("zimage.kernel.cache");
        if (v == null || v.isBlank()) v = System.getenv("ZIMAGE_KERNEL_CACHE");
        if (v != null && v.equalsIgnoreCase("off")) return Optional.empty();
        if (v != null && !v.isBlank()) return Optional.of(new KernelCache(Path.of(v)));
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return Optional.of(new KernelCache(base.resolve("zimage4j").resolve("kernels")));
    }

    public Path directory() {
        return dir;
    }

    /**
     * The key of one kernel build.
     *
     * @param ptx               the PTX text as handed to the JIT
     * @param jitOptions        a description of every JIT option that changes the code (e.g. "O4 target=context")
     * @param driverVersion     {@code cuDriverGetVersion}
     * @param computeCapability major × 10 + minor
     * @param deviceName        {@code cuDeviceGetName}
     */
    public static Key key(String ptx, String jitOptions, int driverVersion, int computeCapability, String deviceName) {
        MessageDigest sha = sha256();
        String meta = FORMAT + "\ndriver=" + driverVersion + "\ncc=" + computeCapability + "\ndevice=" + deviceName
                + "\noptions=" + jitOptions + "\nptx-bytes=" + ptx.length() + "\n";
        sha.update(meta.getBytes(StandardCharsets.UTF_8));
        sha.update(ptx.getBytes(StandardCharsets.UTF_8));
        return new Key(HexFormat.of().formatHex(sha.digest()));
    }

    /** The file of {@code key}. */
    Path file(Key key) {
        return dir.resolve(key.hex() + ".cubin");
    }

    /** The cubin stored under {@code key}, or empty (a miss; a damaged entry is deleted and counted as corrupt). */
    public Optional<byte[]> get(Key key) {
        Path f = file(key);
        byte[] raw;
        try {
            raw = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            misses.incrementAndGet();
            return Optional.empty();
        } catch (IOException e) {
            LOG.warning(() -> "kernel cache: cannot read " + f + " (" + e + "); compiling instead");
            misses.incrementAndGet();
            return Optional.empty();
        }
        String problem = validate(raw);
        if (problem != null) {
            corrupt.incrementAndGet();
            misses.incrementAndGet();
            LOG.warning(() -> "kernel cache: " + f + " is damaged (" + problem + "); deleting it and compiling instead");
            delete(f);
            return Optional.empty();
        }
        hits.incrementAndGet();
        return Optional.of(Arrays.copyOfRange(raw, HEADER, raw.length));
    }

    /** Why {@code raw} is not a valid entry, or null. */
    private static String validate(byte[] raw) {
        if (raw.length < HEADER + ELF.length) return "only " + raw.length + " bytes";
        if (!Arrays.equals(raw, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) return "bad magic";
        long len = ByteBuffer.wrap(raw, MAGIC.length, Long.BYTES).getLong();
        if (len != raw.length - HEADER) return "header says " + len + " payload bytes, file has " + (raw.length - HEADER);
        MessageDigest sha = sha256();
        sha.update(raw, HEADER, raw.length - HEADER);
        if (!Arrays.equals(sha.digest(), 0, 32, raw, MAGIC.length + Long.BYTES, HEADER)) return "payload checksum mismatch";
        if (!Arrays.equals(raw, HEADER, HEADER + ELF.length, ELF, 0, ELF.length)) return "payload is not an ELF cubin";
        return null;
    }

    /**
     * Stores {@code cubin} under {@code key} atomically (temporary file, fsync, rename). Failures are logged,
     * never thrown: the kernel is already compiled, only the next process pays again.
     *
     * @throws IllegalArgumentException if {@code cubin} is not an ELF image (a caller bug, not an I/O condition)
     */
    public void put(Key key, byte[] cubin) {
        if (cubin.length < ELF.length || !Arrays.equals(cubin, 0, ELF.length, ELF, 0, ELF.length))
            throw new IllegalArgumentException("kernel cache: refusing to store " + cubin.length + " bytes that are not an ELF cubin");
        Path target = file(key);
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + key.hex().substring(0, 16) + "-", ".tmp");
            ByteBuffer header = ByteBuffer.allocate(HEADER).put(MAGIC).putLong(cubin.length);
            MessageDigest sha = sha256();
            header.put(sha.digest(cubin)).flip();
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(header);
                ByteBuffer body = ByteBuffer.wrap(cubin);
                while (body.hasRemaining()) ch.write(body);
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            stores.incrementAndGet();
        } catch (IOException | RuntimeException e) {
            LOG.warning(() -> "kernel cache: cannot store " + target + " (" + e + "); the next process compiles this kernel again");
        } finally {
            if (tmp != null) delete(tmp);
        }
    }

    /** Removes the entry of {@code key} (e.g. after the driver refused to load it). */
    public void evict(Key key) {
        delete(file(key));
    }

    public Counts counts() {
        return new Counts(hits.get(), misses.get(), stores.get(), corrupt.get());
    }

    private static void delete(Path f) {
        try {
            Files.deleteIfExists(f);
        } catch (IOException e) {
            LOG.warning(() -> "kernel cache: cannot delete " + f + " (" + e + ")");
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
