package dev.zimage4j.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The models this server may load: explicitly named directories plus the sub-directories of the
 * configured model roots. A model id resolves only to one of these; ids with path syntax
 * ({@code ../../etc/passwd}, {@code a/b}) never resolve, so no request can name a file outside the roots.
 */
public final class ModelRegistry {
    /** What a model id may look like: a single path segment, no dot-only names. */
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");

    private final Map<String, Path> named;
    private final List<Path> roots;

    /**
     * @param named model id → directory
     * @param roots directories whose sub-directories are models
     */
    public ModelRegistry(Map<String, Path> named, List<Path> roots) {
        for (String id : named.keySet())
            if (!ID.matcher(id).matches())
                throw new ConfigException("model id '" + id + "' must be letters, digits, '.', '_' or '-' (no path separators)");
        this.named = new LinkedHashMap<>(named);
        this.roots = roots.stream().map(p -> p.toAbsolutePath().normalize()).toList();
        for (Path r : this.roots)
            if (!Files.isDirectory(r)) throw new ConfigException("model root " + r + " is not a directory");
    }

    /** The registry of a configuration's {@code models} and {@code model_roots}. */
    public static ModelRegistry of(EngineConfig config) {
        Map<String, Path> named = new LinkedHashMap<>();
        config.models().forEach((id, dir) -> named.put(id, EngineConfig.expand(dir)));
        return new ModelRegistry(named, config.modelRoots().stream().map(EngineConfig::expand).toList());
    }

    /**
     * The directory of model {@code id}.
     *
     * @throws UnknownModelException when the id is not configured or is not a plain name
     */
    public Path resolve(String id) {
        if (id != null && ID.matcher(id).matches()) {
            Path p = named.get(id);
            if (p != null) return p;
            for (Path root : roots) {
                Path candidate = root.resolve(id).normalize();
                if (candidate.getParent() != null && candidate.getParent().equals(root) && Files.isDirectory(candidate))
                    return candidate;
            }
        }
        throw new UnknownModelException(String.valueOf(id), String.join(", ", ids()));
    }

    /** True when {@code id} resolves. */
    public boolean contains(String id) {
        try {
            resolve(id);
            return true;
        } catch (UnknownModelException e) {
            return false;
        }
    }

    /** Every model id, named ones first, then each root's sub-directories in name order. */
    public List<String> ids() {
        List<String> out = new ArrayList<>(named.keySet());
        for (Path root : roots) {
            try (Stream<Path> s = Files.list(root)) {
                s.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                        .filter(n -> ID.matcher(n).matches() && !out.contains(n)).sorted().forEach(out::add);
            } catch (IOException e) {
                Log.info("cannot list model root " + root + ": " + e.getMessage());
            }
        }
        return out;
    }
}
