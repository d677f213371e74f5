package dev.zimage4j.cli;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.safetensors.TensorView;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * {@code zimage inspect PATH [--json]}: the tensors of a {@code .safetensors} file, a sharded
 * {@code *.safetensors.index.json}, a directory holding one of those, or a model directory (a pipeline folder
 * such as a Hugging Face download, whose component subfolders each hold a checkpoint): a table of name, dtype,
 * shape and bytes, then totals per dtype and per top-level name prefix (the first dotted component).
 */
public final class InspectCommand implements Command {

    @Override
    public String name() {
        return "inspect";
    }

    @Override
    public String summary() {
        return "list the tensors of a safetensors file, sharded index or model directory";
    }

    @Override
    public String usage() {
        return """
                usage: zimage inspect PATH [--json]
                  PATH    a .safetensors file, a *.safetensors.index.json, a directory holding one of them,
                          or a model directory (model_index.json and component subfolders, e.g. transformer/)
                  --json  machine-readable output instead of tables""";
    }

    /** One checkpoint of the inspected path, and the label it is shown under. */
    private record Component(String label, Path path) {
    }

    /** Count, elements and bytes of a group of tensors. */
    private static final class Total {
        long tensors, elements, bytes;

        void add(TensorView t) {
            tensors++;
            elements += t.numel();
            bytes += t.data().byteSize();
        }

        void add(Total o) {
            tensors += o.tensors;
            elements += o.elements;
            bytes += o.bytes;
        }
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws IOException {
        Args args = new Args(argList, Set.of(), Set.of("--json"));
        if (args.positional().size() != 1) throw new UsageException("expected exactly one PATH");
        Path path = Path.of(args.positional().getFirst());
        if (!Files.exists(path)) throw new UsageException(path + ": no such file or directory");
        List<Component> components = components(path);

        JsonMapper json = JsonMapper.builder().build();
        ObjectNode root = json.createObjectNode().put("path", path.toString());
        ArrayNode jsonComponents = root.putArray("components");
        Total grand = new Total();
        for (Component c : components) {
            try (Checkpoint cp = Safetensors.open(c.path())) {
                List<TensorView> tensors = cp.names().stream().map(cp::get).toList();
                Total all = new Total();
                Map<String, Total> byDType = new TreeMap<>(), byPrefix = new TreeMap<>();
                for (TensorView t : tensors) {
                    all.add(t);
                    byDType.computeIfAbsent(t.dtype().name(), k -> new Total()).add(t);
                    byPrefix.computeIfAbsent(prefix(t.name()), k -> new Total()).add(t);
                }
                grand.add(all);
                if (args.flag("--json")) {
                    ObjectNode o = jsonComponents.addObject().put("component", c.label()).put("source", cp.source());
                    ObjectNode meta = o.putObject("metadata");
                    cp.metadata().forEach(meta::put);
                    ArrayNode list = o.putArray("tensors");
                    for (TensorView t : tensors) {
                        ObjectNode to = list.addObject().put("name", t.name()).put("dtype", t.dtype().name());
                        ArrayNode shape = to.putArray("shape");
                        for (long d : t.shape()) shape.add(d);
                        to.put("elements", t.numel()).put("bytes", t.data().byteSize());
                    }
                    ObjectNode totals = o.putObject("totals");
                    totalJson(totals, all);
                    ObjectNode dtypes = totals.putObject("by_dtype"), prefixes = totals.putObject("by_prefix");
                    byDType.forEach((k, v) -> totalJson(dtypes.putObject(k), v));
                    byPrefix.forEach((k, v) -> totalJson(prefixes.putObject(k), v));
                } else {
                    printTable(out, c, cp, tensors, all, byDType, byPrefix);
                }
            }
        }
        if (args.flag("--json")) {
            totalJson(root.putObject("totals"), grand);
            out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        } else if (components.size() > 1) {
            out.printf("TOTAL  %d components  %d tensors  %,d elements  %,d bytes (%s)%n", components.size(),
                    grand.tensors, grand.elements, grand.bytes, human(grand.bytes));
        }
        return 0;
    }

    /**
     * What {@code path} holds: itself if it is a file or a directory standing for one checkpoint; for a model
     * directory (one with {@code model_index.json}, or no checkpoint of its own), each subfolder holding a
     * checkpoint plus each checkpoint file directly in it, sorted by name.
     */
    static List<Component> components(Path path) throws IOException {
        if (!Files.isDirectory(path)) return List.of(new Component(path.getFileName().toString(), path));
        boolean pipeline = Files.exists(path.resolve("model_index.json"));
        if (!pipeline && holdsCheckpoint(path)) return List.of(new Component(path.getFileName().toString(), path));
        List<Component> found = new ArrayList<>();
        try (Stream<Path> s = Files.list(path)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (Files.isDirectory(p) ? holdsCheckpoint(p)
                        : n.endsWith(Safetensors.INDEX_SUFFIX) || (n.endsWith(Safetensors.FILE_SUFFIX) && !shardOfIndex(p)))
                    found.add(new Component(n, p));
            }
        }
        if (found.isEmpty())
            throw new UsageException(path + ": no .safetensors file, index, or component folder holding one");
        return found;
    }

    private static boolean holdsCheckpoint(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(Safetensors.FILE_SUFFIX));
        }
    }

    /** A shard like {@code model-00001-of-00003.safetensors} is listed through its index, not on its own. */
    private static boolean shardOfIndex(Path file) throws IOException {
        try (Stream<Path> s = Files.list(file.getParent())) {
            return file.getFileName().toString().matches(".*-\\d{5}-of-\\d{5}\\.safetensors")
                    && s.anyMatch(p -> p.getFileName().toString().endsWith(Safetensors.INDEX_SUFFIX));
        }
    }

    /** First dotted component of a tensor name ({@code layers.0.attention.to_q.weight} → {@code layers}). */
    static String prefix(String name) {
        int dot = name.indexOf('.');
        return dot < 0 ? name : name.substring(0, dot);
    }

    private static void totalJson(ObjectNode o, Total t) {
        o.put("tensors", t.tensors).put("elements", t.elements).put("bytes", t.bytes);
    }

    private static void printTable(PrintStream out, Component c, Checkpoint cp, List<TensorView> tensors, Total all,
                                   Map<String, Total> byDType, Map<String, Total> byPrefix) {
        out.println("== " + c.label() + " (" + cp.source() + ")");
        if (!cp.metadata().isEmpty()) out.println("metadata: " + cp.metadata());
        int nameWidth = Math.max(4, tensors.stream().mapToInt(t -> t.name().length()).max().orElse(0));
        int shapeWidth = Math.max(5, tensors.stream().mapToInt(t -> Arrays.toString(t.shape()).length()).max().orElse(0));
        String row = "%-" + nameWidth + "s  %-7s  %-" + shapeWidth + "s  %,15d%n";
        out.printf("%-" + nameWidth + "s  %-7s  %-" + shapeWidth + "s  %15s%n", "name", "dtype", "shape", "bytes");
        for (TensorView t : tensors) out.printf(row, t.name(), t.dtype(), Arrays.toString(t.shape()), t.data().byteSize());
        out.println("-- by dtype");
        byDType.forEach((k, v) -> printTotal(out, k, v));
        out.println("-- by prefix");
        byPrefix.forEach((k, v) -> printTotal(out, k, v));
        printTotal(out, "total", all);
        out.println();
    }

    private static void printTotal(PrintStream out, String label, Total t) {
        out.printf("  %-24s %6d tensors  %,16d elements  %,16d bytes  (%s)%n", label, t.tensors, t.elements, t.bytes, human(t.bytes));
    }

    /** Bytes in binary units, e.g. {@code 11.4 GiB}. */
    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format("%.1f %s", v, units[u]);
    }
}
