package dev.zimage4j.safetensors;

import java.lang.foreign.Arena;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/** A {@link Checkpoint} over files mapped into one shared arena; closing the arena unmaps them all. */
final class MappedCheckpoint implements Checkpoint {
    private final String source;
    private final Arena arena;
    private final Map<String, TensorView> tensors;
    private final SortedSet<String> names;
    private final Map<String, String> metadata;

    MappedCheckpoint(String source, Arena arena, Map<String, TensorView> tensors, Map<String, String> metadata) {
        this.source = source;
        this.arena = arena;
        this.tensors = Map.copyOf(tensors);
        this.names = Collections.unmodifiableSortedSet(new TreeSet<>(tensors.keySet()));
        this.metadata = Collections.unmodifiableMap(new TreeMap<>(metadata));
    }

    @Override
    public SortedSet<String> names() {
        return names;
    }

    @Override
    public Optional<TensorView> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    @Override
    public String toString() {
        return "Checkpoint[" + source + ", " + tensors.size() + " tensors]";
    }
}
