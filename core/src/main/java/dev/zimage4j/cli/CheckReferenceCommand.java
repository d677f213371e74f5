package dev.zimage4j.cli;

import dev.zimage4j.check.CaseResult;
import dev.zimage4j.check.Fixtures;
import dev.zimage4j.check.ReferenceStage;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;

/**
 * {@code zimage check-reference DIR [--only STAGES] [--backend cpu]}: runs every case of a reference
 * fixtures folder (format: testdata/README.md) through the project, stage by stage (the
 * {@link ReferenceStage}s on the class path, in their order), and prints per case the error and
 * PASS/FAIL against the stage's tolerance (on a bf16 backend such as CUDA, the README's GPU criterion: see
 * {@link dev.zimage4j.check.Tolerance}). Exit status 0 when every case passes, 1 when any fails, a
 * stage breaks, or nothing was checked.
 */
public final class CheckReferenceCommand implements Command {
    @Override
    public String name() {
        return "check-reference";
    }

    @Override
    public String summary() {
        return "compare every stage against a reference fixtures folder (PASS/FAIL per case)";
    }

    @Override
    public String usage() {
        return """
                usage: zimage check-reference DIR [--only STAGES] [--backend cpu]
                  DIR            fixtures folder: model files, cases.json, expected.safetensors (testdata/README.md)
                  --only STAGES  comma-separated stage names to run (default: all); known: %s
                  --backend B    compute backend (default cpu)
                exit status 0 if every case passes, 1 otherwise""".formatted(String.join(", ", stageNames(stages())));
    }

    /** The stages on the class path, in run order. */
    static List<ReferenceStage> stages() {
        List<ReferenceStage> all = new ArrayList<>();
        ServiceLoader.load(ReferenceStage.class).forEach(all::add);
        all.sort(Comparator.comparingInt(ReferenceStage::order).thenComparing(ReferenceStage::name));
        return all;
    }

    private static List<String> stageNames(List<ReferenceStage> stages) {
        return stages.stream().map(ReferenceStage::name).toList();
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        Args args = new Args(argList, Set.of("--only", "--backend"), Set.of());
        if (args.positional().size() != 1)
            throw new UsageException(args.positional().isEmpty() ? "missing fixtures folder DIR" : "one fixtures folder expected, got " + args.positional());
        Path dir = Path.of(args.positional().getFirst());
        List<ReferenceStage> stages = select(stages(), args.get("--only", null));

        int pass = 0, fail = 0;
        try (Fixtures fixtures = open(dir); Backend backend = createBackend(args.get("--backend", "cpu"))) {
            out.printf("check-reference %s on %s, stages %s%n", dir, backend.name(), String.join(",", stageNames(stages)));
            out.printf("%-10s %s  %9s  %7s  %s%n", "stage", "    ", "error", "tol", "case (detail)");
            for (ReferenceStage stage : stages) {
                long t0 = System.nanoTime();
                List<CaseResult> results;
                try {
                    results = stage.run(fixtures, backend);
                } catch (Exception | Error e) {
                    fail++;
                    out.printf("%-10s FAIL  %9s  %7s  stage failed: %s%n", stage.name(), "-", "-",
                            e.getMessage() == null ? e.toString() : e.getMessage().replace("\n", " | "));
                    if (System.getenv("ZIMAGE_DEBUG") != null) e.printStackTrace(err);
                    continue;
                }
                for (CaseResult r : results) {
                    if (r.pass()) pass++;
                    else fail++;
                    String detail = Double.isNaN(r.minCosine()) ? r.detail()
                            : String.format("%s%scosine %.6f, min %.3f", r.detail(), r.detail().isEmpty() ? "" : ", ", r.cosine(), r.minCosine());
                    out.printf("%-10s %s  %9.3e  %7.1e  %s  (%s)%n", r.stage(), r.pass() ? "PASS" : "FAIL", r.error(), r.tolerance(),
                            r.name(), detail);
                }
                out.printf("%-10s %d case%s in %.1f s%n", stage.name(), results.size(), results.size() == 1 ? "" : "s", (System.nanoTime() - t0) / 1e9);
            }
        }
        if (pass + fail == 0) {
            out.println("nothing checked: the selected stages found no cases in " + dir);
            return 1;
        }
        out.printf("%d passed, %d failed%n", pass, fail);
        return fail == 0 ? 0 : 1;
    }

    private static Fixtures open(Path dir) {
        try {
            return Fixtures.open(dir);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    private static Backend createBackend(String name) {
        try {
            return Backends.create(name);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--backend: " + e.getMessage());
        }
    }

    /** The stages named in {@code only} (comma-separated), in run order; all when null. */
    static List<ReferenceStage> select(List<ReferenceStage> all, String only) {
        if (only == null) return all;
        Set<String> wanted = new LinkedHashSet<>();
        for (String s : only.split(",")) if (!s.isBlank()) wanted.add(s.trim());
        if (wanted.isEmpty()) throw new UsageException("--only needs at least one stage name; known: " + String.join(", ", stageNames(all)));
        List<String> unknown = wanted.stream().filter(w -> all.stream().noneMatch(s -> s.name().equals(w))).toList();
        if (!unknown.isEmpty())
            throw new UsageException("unknown stage" + (unknown.size() == 1 ? " " : "s ") + String.join(", ", unknown) + "; known: " + String.join(", ", stageNames(all)));
        return all.stream().filter(s -> wanted.contains(s.name())).toList();
    }
}
