package dev.zimage4j.safetensors;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Streaming safetensors writer. Tensors are declared first ({@link #add}) with a {@link TensorSource} that
 * is called later; {@link #write} then writes the header (offsets are known from the shapes), and streams the
 * tensors one by one in the order added, so files of any size are written with a 1 MiB buffer. The output
 * goes to a temporary sibling first and is moved into place only when complete.
 *
 * <pre>{@code
 * new SafetensorsWriter()
 *     .metadata("format", "pt")
 *     .add("w", DType.BF16, new long[]{4096, 4096}, sink -> { for (...) sink.putFloat(DType.BF16, rng.nextFloat()); })
 *     .write(Path.of("model.safetensors"));
 * }</pre>
 *
 * {@link #writeSharded} splits the same tensors over several files plus a {@code *.safetensors.index.json},
 * as Hugging Face checkpoints are laid out. A writer can be written more than once if its sources allow.
 */
public final class SafetensorsWriter {

    /** One declared tensor. */
    private record Pending(String name, DType dtype, long[] shape, long bytes, TensorSource source) {
    }

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();

    /** Adds a {@code __metadata__} entry (written into every file). */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /**
     * Declares a tensor whose {@code numel · dtype.bytes()} bytes {@code source} will write.
     *
     * @throws IllegalArgumentException for a duplicate or reserved name, or a negative / overflowing shape
     */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, TensorSource source) {
        if (name.equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved, not a tensor name");
        if (!names.add(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        long numel = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dim in " + Arrays.toString(shape));
            numel = Math.multiplyExact(numel, d);
        }
        tensors.add(new Pending(name, dtype, shape.clone(), Math.multiplyExact(numel, dtype.bytes()), source));
        return this;
    }

    /** Declares a tensor copied byte for byte from {@code view} (which must stay open until written). */
    public SafetensorsWriter add(TensorView view) {
        return add(view.name(), view.dtype(), view.shape(), sink -> sink.put(view.data()));
    }

    /** Declares a tensor with the given values, stored as float type {@code dtype} (rounded to nearest even). */
    public SafetensorsWriter addFloats(String name, DType dtype, long[] shape, float[] values) {
        if (!dtype.isFloat()) throw new IllegalArgumentException("tensor '" + name + "': " + dtype + " is not a float type");
        float[] copy = values.clone();
        long numel = 1;
        for (long d : shape) numel *= d;
        if (numel != copy.length)
            throw new IllegalArgumentException("tensor '" + name + "': " + copy.length + " values for shape " + Arrays.toString(shape));
        return add(name, dtype, shape, sink -> sink.putFloats(dtype, copy, 0, copy.length));
    }

    /** Sum of all declared tensors' byte lengths. */
    public long dataBytes() {
        long n = 0;
        for (Pending p : tensors) n += p.bytes();
        return n;
    }

    /** Writes every tensor into one file. */
    public void write(Path file) {
        writeFile(file, tensors);
    }

    /**
     * Writes the tensors, in the order added, into files of at most {@code maxShardBytes} data bytes each
     * (a larger tensor gets a file of its own) named {@code BASE-00001-of-0000N.safetensors}, plus
     * {@code BASE.safetensors.index.json} whose {@code weight_map} names every tensor's file and whose metadata
     * holds {@code total_size}. Always writes an index, even for one shard.
     *
     * @return the index file
     */
    public Path writeSharded(Path dir, String baseName, long maxShardBytes) {
        if (maxShardBytes <= 0) throw new IllegalArgumentException("maxShardBytes must be positive");
        List<List<Pending>> shards = new ArrayList<>();
        List<Pending> current = new ArrayList<>();
        long size = 0;
        for (Pending p : tensors) {
            if (!current.isEmpty() && size + p.bytes() > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(p);
            size += p.bytes();
        }
        if (!current.isEmpty() || shards.isEmpty()) shards.add(current);
        Map<String, String> weightMap = new TreeMap<>();
        try {
            Files.createDirectories(dir);
            for (int i = 0; i < shards.size(); i++) {
                String shardName = String.format("%s-%05d-of-%05d%s", baseName, i + 1, shards.size(), Safetensors.FILE_SUFFIX);
                writeFile(dir.resolve(shardName), shards.get(i));
                for (Pending p : shards.get(i)) weightMap.put(p.name(), shardName);
            }
            ObjectNode root = Header.JSON.createObjectNode();
            root.putObject("metadata").put("total_size", dataBytes());
            ObjectNode wm = root.putObject("weight_map");
            weightMap.forEach(wm::put);
            Path index = dir.resolve(baseName + Safetensors.INDEX_SUFFIX);
            Path tmp = Files.createTempFile(dir, "." + baseName, ".tmp");
            try {
                Files.writeString(tmp, Header.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
                Files.move(tmp, index, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return index;
        } catch (IOException e) {
            throw new WriteException(dir + ": cannot write sharded checkpoint " + baseName + ": " + e.getMessage(), e);
        }
    }

    /** The header bytes for {@code part}: JSON padded with spaces to a multiple of 8, as the reference writes it. */
    private byte[] header(List<Pending> part) throws IOException {
        ByteArrayOutputStream json = new ByteArrayOutputStream();
        try (JsonGenerator g = Header.JSON.getFactory().createGenerator(json)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart("__metadata__");
                for (Map.Entry<String, String> e : metadata.entrySet()) g.writeStringField(e.getKey(), e.getValue());
                g.writeEndObject();
            }
            long offset = 0;
            for (Pending p : part) {
                g.writeObjectFieldStart(p.name());
                g.writeStringField("dtype", p.dtype().name());
                g.writeArrayFieldStart("shape");
                for (long d : p.shape()) g.writeNumber(d);
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                g.writeNumber(offset + p.bytes());
                g.writeEndArray();
                g.writeEndObject();
                offset += p.bytes();
            }
            g.writeEndObject();
        }
        while (json.size() % 8 != 0) json.write(' ');
        return json.toByteArray();
    }

    private void writeFile(Path file, List<Pending> part) {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] header = header(part);
                ByteSink sink = new ByteSink(ch);
                sink.putLong(header.length);
                sink.put(header, 0, header.length);
                for (Pending p : part) {
                    long before = sink.written();
                    p.source().writeTo(sink);
                    long wrote = sink.written() - before;
                    if (wrote != p.bytes())
                        throw new WriteException(file + ": tensor '" + p.name() + "' " + p.dtype() + " "
                                + Arrays.toString(p.shape()) + " needs " + p.bytes() + " bytes but its source wrote " + wrote);
                }
                sink.flush();
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            tmp = null;
        } catch (IOException e) {
            throw new WriteException(file + ": cannot write: " + e.getMessage(), e);
        } finally {
            if (tmp != null) try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the original failure matters more
            }
        }
    }
}
