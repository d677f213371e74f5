package dev.zimage4j.safetensors;

import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;

/**
 * A read-only, memory-mapped name space of tensors: one {@code .safetensors} file, a sharded checkpoint
 * described by a {@code *.safetensors.index.json}, or a directory holding either. Tensors are zero-copy
 * views valid until {@link #close()}, which unmaps every file.
 */
public interface Checkpoint extends AutoCloseable {

    /** All tensor names, sorted. */
    SortedSet<String> names();

    /** The tensor called {@code name}, if present. */
    Optional<TensorView> find(String name);

    /**
     * The tensor called {@code name}.
     *
     * @throws MissingTensorException naming the tensor and the checkpoint
     */
    default TensorView get(String name) {
        return find(name).orElseThrow(() -> new MissingTensorException("no tensor '" + name + "' in " + source()));
    }

    /** The {@code __metadata__} string map of the header (merged over shards; the index's own metadata wins). */
    Map<String, String> metadata();

    /** Where it was opened from, for messages. */
    String source();

    /** Unmaps every file. Views obtained earlier must not be used afterwards. */
    @Override
    void close();
}
