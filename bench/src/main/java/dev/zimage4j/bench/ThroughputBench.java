package dev.zimage4j.bench;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.cli.Args;
import dev.zimage4j.cli.Command;
import dev.zimage4j.cli.UsageException;
import dev.zimage4j.engine.Engine;
import dev.zimage4j.engine.EngineConfig;
import dev.zimage4j.engine.GeneratorFactory;
import dev.zimage4j.engine.Job;
import dev.zimage4j.engine.ModelRegistry;
import dev.zimage4j.pipeline.DemoModel;
import dev.zimage4j.pipeline.GenerationRequest;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code zimage bench-throughput}: images per second of one engine with one worker (the first device) against
 * the same engine with one worker per listed device, all requests queued at once on the one queue. Prints
 * images/s for each, the ratio (target on two GPUs: at least 1.9), each device's busy fraction and jobs, and
 * checks that every job finished exactly once (distinct job ids, one distinct image file each).
 * In-process (no HTTP): it measures the workers and the queue, not the server. Also runnable as a plain main
 * (the GPU payload of scripts/gpu-prepare.sh has no launcher).
 */
public final class ThroughputBench implements Command {

    @Override
    public String name() {
        return "bench-throughput";
    }

    @Override
    public String summary() {
        return "images/s with one worker vs one per device (--devices cuda:0,cuda:1), ratio, per-device busy fraction";
    }

    @Override
    public String usage() {
        return """
                usage: zimage bench-throughput --devices LIST [--model DIR] [--size WxH] [--steps N] [--requests N]
                                              [--out DIR] [--only-all]
                  --devices LIST  comma-separated devices (config key devices), e.g. cuda:0,cuda:1 or cpu:2
                  --model DIR     model directory (default: the built-in demo model)
                  --size WxH      image size of every request and of the prewarm (default 1024x1024)
                  --steps N       denoising steps (default 8)
                  --requests N    requests queued at once per run (default 32)
                  --out DIR       where the images and journals go (default: a temporary directory)
                  --warmup N      untimed requests per worker after prewarm (default 2)
                  --only-all      skip the one-worker run (no ratio)""";
    }

    public static void main(String[] args) throws Exception {
        System.exit(new ThroughputBench().run(List.of(args), System.out, System.err));
    }

    /** One run's figures. */
    record Result(String devices, int requests, double seconds, Map<String, Long> jobs, Map<String, Double> busy) {
        double imagesPerSecond() {
            return requests / seconds;
        }
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argList, Set.of("--devices", "--model", "--size", "--steps", "--requests", "--out", "--warmup"), Set.of("--only-all"));
        String devices = a.get("--devices", null);
        if (devices == null) throw new UsageException("--devices is required, e.g. --devices cuda:0,cuda:1");
        List<String> all = List.of(devices.split(","));
        String size = a.get("--size", "1024x1024");
        int steps = a.getInt("--steps", 8), requests = a.getInt("--requests", 32), warmup = a.getInt("--warmup", 2);
        if (requests < 1) throw new UsageException("--requests must be positive");
        Path model = a.get("--model", null) != null ? EngineConfig.expand(a.get("--model", null)) : DemoModel.ensure(err::println);
        Path work = a.get("--out", null) != null ? EngineConfig.expand(a.get("--out", null)) : Files.createTempDirectory("zimage-throughput");
        out.printf("throughput: model %s, %s, %d steps, %d requests queued at once%n", model, size, steps, requests);
        Result one = null;
        if (!a.flag("--only-all")) {
            List<String> first = all.getFirst().startsWith("cpu:") ? List.of("cpu") : List.of(all.getFirst());
            one = measure(first, model, work.resolve("one"), size, steps, requests, warmup, out);
        }
        Result many = measure(all, model, work.resolve("all"), size, steps, requests, warmup, out);
        if (one != null)
            out.printf("ratio (%s vs %s): %.2fx%n", many.devices(), one.devices(), many.imagesPerSecond() / one.imagesPerSecond());
        return 0;
    }

    private static Result measure(List<String> devices, Path model, Path outDir, String size, int steps, int requests,
                                  int warmupPerWorker, PrintStream out) throws Exception {
        ObjectNode o = JsonMapper.builder().build().createObjectNode();
        o.putObject("models").put("m", model.toString());
        o.put("output_dir", outDir.toString());
        o.put("default_size", size);
        o.put("default_steps", steps);
        o.put("queue_capacity", Math.max(requests, 1));
        o.put("port", 0);
        var d = o.putArray("devices");
        devices.forEach(d::add);
        EngineConfig config = EngineConfig.load(null, o);
        int[] wh = config.defaultWidthHeight();
        try (Engine e = Engine.open(config, ModelRegistry.of(config), GeneratorFactory.fromSystem(config.backend()))) {
            long p0 = System.nanoTime();
            e.prewarmAndStart();  // every worker loads the model and runs one generation at this size before the clock starts
            out.printf("  %s: prewarmed in %.1f s%n", devices, (System.nanoTime() - p0) / 1e9);
            // untimed: a few jobs per worker through the queue, so the JIT (CPU) and allocator state settle first
            List<Job> warm = new ArrayList<>();
            for (int i = 0; i < warmupPerWorker * e.workers().size(); i++)
                warm.add(e.submit(GenerationRequest.of("warm-up " + i, 1_000_000 + i).withSize(wh[0], wh[1]).withSteps(steps), "m", "bench"));
            for (Job j : warm) j.finished().get(1, TimeUnit.HOURS);
            Map<String, Double> busy0 = busy(e);
            Map<String, Long> jobs0 = new java.util.HashMap<>();
            for (Engine.WorkerStatus w : e.workers()) jobs0.put(w.device(), w.jobsDone());
            List<Job> jobs = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < requests; i++)
                jobs.add(e.submit(GenerationRequest.of("throughput " + i + ": a lighthouse on a cliff at dusk", i).withSize(wh[0], wh[1]).withSteps(steps), "m", "bench"));
            for (Job j : jobs) j.finished().get(1, TimeUnit.HOURS);
            double seconds = (System.nanoTime() - t0) / 1e9;
            Set<String> ids = new HashSet<>(), files = new HashSet<>();
            int failed = 0;
            for (Job j : jobs) {
                ids.add(j.id());
                if (j.state() != Job.State.DONE) failed++;
                else j.images().forEach(img -> files.add(img.name()));
            }
            Map<String, Long> done = new java.util.LinkedHashMap<>();
            Map<String, Double> busyFraction = new java.util.LinkedHashMap<>();
            long sum = 0;
            for (Engine.WorkerStatus w : e.workers()) {
                long n = w.jobsDone() - jobs0.get(w.device());
                done.put(w.device(), n);
                sum += n;
                busyFraction.put(w.device(), (w.busySeconds() - busy0.get(w.device())) / seconds);
            }
            Result r = new Result(String.join(",", devices), requests, seconds, done, busyFraction);
            out.printf("  %s: %d images in %.2f s = %.3f images/s%n", r.devices(), requests, seconds, r.imagesPerSecond());
            for (String dev : done.keySet())
                out.printf("    %-8s jobs %3d  busy %5.1f%%%n", dev, done.get(dev), 100 * busyFraction.get(dev));
            // prewarm runs are not queued jobs and warm-up jobs are subtracted: the counts cover exactly the requests
            String check = failed == 0 && ids.size() == requests && files.size() == requests && sum == requests ? "OK" : "FAILED";
            out.printf("    jobs check %s: %d submitted, %d distinct ids, %d distinct images, %d failed, %d run by workers%n",
                    check, requests, ids.size(), files.size(), failed, sum);
            if (!check.equals("OK")) throw new IllegalStateException("lost, duplicated or failed jobs in the " + r.devices() + " run");
            return r;
        }
    }

    private static Map<String, Double> busy(Engine e) {
        Map<String, Double> m = new java.util.HashMap<>();
        for (Engine.WorkerStatus w : e.workers()) m.put(w.device(), w.busySeconds());
        return m;
    }
}
