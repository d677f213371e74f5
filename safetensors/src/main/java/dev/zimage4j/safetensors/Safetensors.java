package dev.zimage4j.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Opens safetensors checkpoints: a single {@code .safetensors} file, a sharded checkpoint through its
 * {@code *.safetensors.index.json}, or a directory holding exactly one of those. Each file is mapped
 * read-only as one {@link MemorySegment} (long offsets: files over 2 GiB work); every tensor is a zero-copy
 * slice of it. Headers are fully validated before any tensor is handed out, and every access goes through a
 * bounds-checked segment. A checkpoint may be used from several threads; {@link Checkpoint#close()} unmaps it.
 * Files must not be truncated by another process while mapped (the OS would fault on the missing pages).
 */
public final class Safetensors {
    /** Suffix of a sharded checkpoint's index file. */
    public static final String INDEX_SUFFIX = ".safetensors.index.json";
    /** Suffix of a safetensors file. */
    public static final String FILE_SUFFIX = ".safetensors";

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Safetensors() {
    }

    /**
     * Opens {@code path}: a {@code .safetensors} file, an {@code *.safetensors.index.json}, or a directory with
     * exactly one index (preferred) or exactly one {@code .safetensors} file.
     *
     * @throws CheckpointLayoutException if the path does not exist or a directory is empty or ambiguous
     * @throws SafetensorsException      (a specific subclass) for any malformed file or index
     */
    public static Checkpoint open(Path path) {
        if (Files.isDirectory(path)) return open(resolveDirectory(path));
        if (!Files.isRegularFile(path)) throw new CheckpointLayoutException(path + ": no such file or directory");
        if (path.getFileName().toString().endsWith(INDEX_SUFFIX)) return openIndex(path);
        return openFile(path);
    }

    /** The file a directory stands for: its only index, else its only {@code .safetensors} file. */
    public static Path resolveDirectory(Path dir) {
        List<Path> indexes = new ArrayList<>(), files = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(Files::isRegularFile).sorted().forEach(p -> {
                String n = p.getFileName().toString();
                if (n.endsWith(INDEX_SUFFIX)) indexes.add(p);
                else if (n.endsWith(FILE_SUFFIX)) files.add(p);
            });
        } catch (IOException e) {
            throw new CheckpointLayoutException(dir + ": cannot list directory: " + e.getMessage());
        }
        if (indexes.size() == 1) return indexes.getFirst();
        if (indexes.size() > 1)
            throw new CheckpointLayoutException(dir + ": several index files, open one of them: " + names(indexes));
        if (files.size() == 1) return files.getFirst();
        if (files.isEmpty())
            throw new CheckpointLayoutException(dir + ": no *" + FILE_SUFFIX + " or *" + INDEX_SUFFIX + " file in it");
        throw new CheckpointLayoutException(dir + ": several " + FILE_SUFFIX + " files and no index, open one of them: "
                + names(files));
    }

    private static String names(List<Path> ps) {
        return ps.stream().map(p -> p.getFileName().toString()).toList().toString();
    }

    private static Checkpoint openFile(Path file) {
        Arena arena = Arena.ofShared();
        try {
            Map<String, TensorView> tensors = new HashMap<>();
            Header h = map(file, arena, tensors);
            return new MappedCheckpoint(file.toString(), arena, tensors, h.metadata());
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Maps {@code file} into {@code arena}, validates its header and adds its tensors to {@code into}. */
    private static Header map(Path file, Arena arena, Map<String, TensorView> into) {
        String name = file.toString();
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8)
                throw new HeaderLengthException(name + ": " + size + " bytes, too short for the 8-byte header length");
            seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (IOException e) {
            throw new SafetensorsException(name + ": cannot map: " + e.getMessage(), e);
        }
        return slice(name, seg, into);
    }

    /**
     * Validates the header at the start of {@code seg} (a whole file's bytes) and adds a zero-copy view of each
     * of its tensors to {@code into}.
     */
    static Header slice(String name, MemorySegment seg, Map<String, TensorView> into) {
        long size = seg.byteSize();
        if (size < 8)
            throw new HeaderLengthException(name + ": " + size + " bytes, too short for the 8-byte header length");
        long n = seg.get(U64, 0);
        if (n < 0 || n > Header.MAX_HEADER_BYTES)
            throw new HeaderLengthException(name + ": header length " + Long.toUnsignedString(n)
                    + " exceeds the " + Header.MAX_HEADER_BYTES + "-byte cap (not a safetensors file?)");
        if (8 + n > size)
            throw new HeaderLengthException(name + ": header length " + n + " runs past the end of the file ("
                    + size + " bytes; truncated?)");
        byte[] json = seg.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        long dataStart = 8 + n;
        Header h = Header.parse(name, json, size - dataStart);
        for (Header.Entry e : h.tensors()) {
            TensorView v = new TensorView(e.name(), e.dtype(), e.shape(), seg.asSlice(dataStart + e.begin(), e.byteLength()));
            if (into.putIfAbsent(e.name(), v) != null)
                throw new DuplicateTensorException(name + ": tensor '" + e.name() + "' appears twice");
        }
        return h;
    }

    private static Checkpoint openIndex(Path index) {
        String name = index.toString();
        JsonNode root;
        try {
            root = Header.JSON.readTree(Files.readString(index));
        } catch (JsonProcessingException e) {
            throw new InvalidIndexException(name + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new InvalidIndexException(name + ": cannot read: " + e.getMessage(), e);
        }
        if (!root.isObject()) throw new InvalidIndexException(name + ": not a JSON object");
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) throw new InvalidIndexException(name + ": no 'weight_map' object");
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> f : wm.properties()) {
            if (!f.getValue().isTextual())
                throw new InvalidIndexException(name + ": weight_map entry of '" + f.getKey() + "' is not a file name");
            weightMap.put(f.getKey(), f.getValue().textValue());
        }
        Path dir = index.toAbsolutePath().getParent();
        Map<String, Path> shards = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            String shard = e.getValue();
            if (shards.containsKey(shard)) continue;
            Path p = dir.resolve(shard).normalize();
            if (shard.isEmpty() || Path.of(shard).isAbsolute() || !p.startsWith(dir))
                throw new InvalidIndexException(name + ": tensor '" + e.getKey() + "' points at '" + shard
                        + "', which is not a file inside " + dir);
            if (!Files.isRegularFile(p))
                throw new MissingShardException(name + ": tensor '" + e.getKey() + "' points at missing shard " + p);
            shards.put(shard, p);
        }
        Map<String, String> metadata = new HashMap<>();
        Map<String, TensorView> tensors = new HashMap<>();
        Arena arena = Arena.ofShared();
        try {
            Map<String, Map<String, TensorView>> perShard = new HashMap<>();
            for (Map.Entry<String, Path> s : shards.entrySet()) {
                Map<String, TensorView> own = new HashMap<>();
                metadata.putAll(map(s.getValue(), arena, own).metadata());
                for (TensorView v : own.values())
                    if (tensors.putIfAbsent(v.name(), v) != null)
                        throw new DuplicateTensorException(s.getValue() + ": tensor '" + v.name()
                                + "' is also in another shard of " + name);
                perShard.put(s.getKey(), own);
            }
            for (Map.Entry<String, String> e : weightMap.entrySet())
                if (!perShard.get(e.getValue()).containsKey(e.getKey()))
                    throw new MissingTensorException(name + ": weight_map puts tensor '" + e.getKey() + "' in "
                            + shards.get(e.getValue()) + ", which does not contain it");
            JsonNode meta = root.get("metadata");
            if (meta != null && meta.isObject())
                for (Map.Entry<String, JsonNode> f : meta.properties()) {
                    metadata.put(f.getKey(), f.getValue().isTextual() ? f.getValue().textValue() : f.getValue().toString());
                }
            return new MappedCheckpoint(name, arena, tensors, metadata);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }
}
