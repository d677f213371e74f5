package dev.zimage4j.bench;

import dev.zimage4j.cli.Args;
import dev.zimage4j.cli.Command;
import dev.zimage4j.cli.UsageException;
import dev.zimage4j.pipeline.DemoModel;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code zimage aot-train}: makes the JVM ahead-of-time cache the launcher uses (JDK 25, JEPs 483/514/515:
 * classes loaded and linked, method profiles, from a training run). The training run is the real workload:
 * {@code ./zimage serve} with the demo model (or {@code --model}), started by the launcher with exactly the
 * flags and class path of a normal start plus {@code -XX:AOTCacheOutput}, one request and a few API calls,
 * then SIGTERM; at exit the JVM writes the cache, which is then renamed into {@code bench/target/dist/zimage.aot}.
 * The launcher passes {@code -XX:AOTCache} when that file exists (unless {@code ZIMAGE_NO_AOT} is set) and
 * deletes it whenever it rebuilds, since a cache only matches the jars it was trained with.
 */
public final class AotTrainCommand implements Command {

    @Override
    public String name() {
        return "aot-train";
    }

    @Override
    public String summary() {
        return "make the JVM AOT cache (bench/target/dist/zimage.aot) from a training run of the server";
    }

    @Override
    public String usage() {
        return """
                usage: zimage aot-train [--model DIR] [--size WxH] [--steps N]
                  --model DIR  model the training server loads (default: the built-in demo model)
                  --size WxH   size of the prewarm and of the training request (default 64x64)
                  --steps N    denoising steps (default 8)
                Writes bench/target/dist/zimage.aot (replacing it atomically); ./zimage uses it from then on
                (ZIMAGE_NO_AOT=1 to run without). Run it again after every rebuild: the launcher deletes the
                cache when it rebuilds, because a cache only matches the jars it was trained with.""";
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argList, Set.of("--model", "--size", "--steps"), Set.of());
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument " + a.positional().getFirst());
        String size = a.get("--size", "64x64");
        if (!size.matches("\\d+x\\d+")) throw new UsageException("--size must be WxH (e.g. 64x64), not " + size);
        int steps = a.getInt("--steps", 8);
        if (steps < 1) throw new UsageException("--steps must be at least 1, not " + steps);
        String rootProp = System.getProperty("zimage.root");
        if (rootProp == null) throw new UsageException("zimage aot-train needs -Dzimage.root (run it through ./zimage)");
        Path root = Path.of(rootProp).toAbsolutePath();
        Path model = a.get("--model", null) == null ? DemoModel.ensure(err::println) : Path.of(a.get("--model", null)).toAbsolutePath();
        if (!Files.isDirectory(model)) throw new UsageException("--model " + model + " is not a directory");
        Path target = root.resolve("bench/target/dist/zimage.aot");
        Path work = Files.createTempDirectory("zimage-aot-train-");
        Path tmp = target.resolveSibling(".zimage-" + ProcessHandle.current().pid() + ".aot");
        try {
            String opts = System.getenv().getOrDefault("ZIMAGE_JAVA_OPTS", "");
            Map<String, String> env = Map.of("ZIMAGE_NO_BUILD", "1", "ZIMAGE_NO_AOT", "1", "ZIMAGE_HOME", work.resolve("home").toString(),
                    "ZIMAGE_JAVA_OPTS", (opts + " -XX:AOTCacheOutput=" + tmp).trim());
            String[] wh = size.split("x");
            String id = model.getFileName().toString();
            long t0 = System.nanoTime();
            ServerProcess p = ServerProcess.start(root.resolve("zimage"), work,
                    List.of("--model", model.toString(), "--prewarm", size, "--default-steps", Integer.toString(steps)), env);
            try {
                out.println("training run: ./zimage serve --model " + model + " --prewarm " + size + " (pid " + p.pid() + ")");
                p.await("/readyz", Duration.ofMinutes(10));
                p.generate(String.format("{\"prompt\":\"a lighthouse on a cliff at dusk\",\"seed\":1,\"width\":%s,\"height\":%s,\"steps\":%d,\"model\":\"%s\",\"output\":\"url\"}",
                        wh[0], wh[1], steps, id));
                for (String path : List.of("/healthz", "/v1/models", "/metrics")) p.get(path);
                out.println("training workload done; stopping the server (the JVM writes the cache as it exits)");
            } finally {
                p.close(Duration.ofMinutes(10));
            }
            if (!Files.isRegularFile(tmp))
                throw new IOException("the training JVM exited without writing " + tmp + "; its log " + p.log() + " ends:\n" + p.logText());
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            out.printf("wrote %s (%.1f MiB) in %.1f s; ./zimage now starts with -XX:AOTCache (ZIMAGE_NO_AOT=1 to run without)%n",
                    target, Files.size(target) / 1048576.0, (System.nanoTime() - t0) / 1e9);
            return 0;
        } finally {
            Files.deleteIfExists(tmp);
            Files.deleteIfExists(Path.of(tmp + ".config"));
            BenchCommand.deleteTree(work);
        }
    }
}
