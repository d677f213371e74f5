package dev.zimage4j.server;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.cli.Args;
import dev.zimage4j.cli.Command;
import dev.zimage4j.cli.UsageException;
import dev.zimage4j.engine.Engine;
import dev.zimage4j.engine.EngineConfig;
import dev.zimage4j.engine.GeneratorFactory;
import dev.zimage4j.engine.Log;
import dev.zimage4j.engine.ModelRegistry;
import dev.zimage4j.pipeline.DemoModel;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/** {@code zimage serve}: the resident, pre-warmed HTTP server (docs/server.md). */
public final class ServeCommand implements Command {
    private static final Set<String> VALUE_OPTIONS = Set.of("--config", "--port", "--host", "--model", "--model-root",
            "--default-model", "--output-dir", "--token", "--max-cached-models", "--queue-capacity", "--prewarm",
            "--max-body-bytes", "--drain-seconds", "--default-size", "--default-steps", "--backend", "--devices");
    private static final Set<String> FLAGS = Set.of("--supervise", "--no-prewarm", "--no-keep-model-in-memory", "--supervised-child");

    /** Default image size with the built-in demo model (as {@code zimage generate} uses). */
    static final String DEMO_SIZE = "256x256";

    private static boolean fileSets(String configFile, String key) throws IOException {
        return configFile != null && JsonMapper.builder().build().readTree(Path.of(configFile).toFile()).has(key);
    }

    @Override
    public String name() {
        return "serve";
    }

    @Override
    public String summary() {
        return "run the resident, pre-warmed HTTP server (built-in demo model when none is given)";
    }

    @Override
    public String usage() {
        return """
                usage: zimage serve [--config FILE] [--host H] [--port N] [--model DIR]… [--model-root DIR]…
                                    [--default-model ID] [--output-dir DIR] [--token T] [--max-cached-models N]
                                    [--no-keep-model-in-memory] [--queue-capacity N] [--prewarm WxH]… [--no-prewarm]
                                    [--default-size WxH] [--default-steps N] [--max-body-bytes N] [--drain-seconds N]
                                    [--backend auto|cpu|cuda] [--devices LIST] [--supervise]
                  --config FILE   JSON configuration (keys and defaults: docs/server.md); flags override it
                  --model DIR     serve this model directory (id = directory name; repeatable; replaces the config's models)
                  --prewarm WxH   a resolution to warm before ready (repeatable; default: the default size)
                  --token T       require Authorization: Bearer T (also ZIMAGE_TOKEN); needed for a non-loopback --host
                  --devices LIST  one worker per device, comma-separated: auto, cpu, cpu:N, cuda:0,cuda:1 (config key devices)
                  --supervise     run the server as a child process, restarting it when it dies or hangs
                With no model configured, serves the built-in demo model (a tiny random Z-Image) at 256x256 by default.""";
    }

    /** The configuration from {@code --config} plus flags (no demo-model fallback). */
    static EngineConfig config(Args a) {
        ObjectNode o = JsonMapper.builder().build().createObjectNode();
        putInt(a, o, "--port", "port");
        putString(a, o, "--host", "host");
        putString(a, o, "--default-model", "default_model");
        putString(a, o, "--output-dir", "output_dir");
        putInt(a, o, "--max-cached-models", "max_cached_models");
        putInt(a, o, "--queue-capacity", "queue_capacity");
        putInt(a, o, "--drain-seconds", "drain_seconds");
        putInt(a, o, "--default-steps", "default_steps");
        putString(a, o, "--default-size", "default_size");
        putString(a, o, "--backend", "backend");
        if (a.get("--devices", null) != null) {
            var devices = o.putArray("devices");
            for (String d : a.get("--devices", null).split(",")) devices.add(d.trim());
        }
        if (a.get("--max-body-bytes", null) != null) o.put("max_body_bytes", a.getLong("--max-body-bytes", 0));
        String token = a.get("--token", System.getenv("ZIMAGE_TOKEN"));
        if (token != null) o.put("auth_token", token);
        if (a.flag("--no-keep-model-in-memory")) o.put("keep_model_in_memory", false);
        if (!a.all("--model").isEmpty()) {
            ObjectNode models = o.putObject("models");
            for (String dir : a.all("--model")) {
                Path p = EngineConfig.expand(dir);
                if (p.getFileName() == null) throw new UsageException("--model " + dir + " is not a model directory");
                models.put(p.getFileName().toString(), p.toString());
            }
        }
        if (!a.all("--model-root").isEmpty()) {
            var roots = o.putArray("model_roots");
            a.all("--model-root").forEach(roots::add);
        }
        if (a.flag("--no-prewarm")) {
            o.putObject("prewarm_on_startup").putArray("models");
        } else if (!a.all("--prewarm").isEmpty()) {
            var res = o.putObject("prewarm_on_startup").putArray("resolutions");
            a.all("--prewarm").forEach(res::add);
        }
        String file = a.get("--config", null);
        return EngineConfig.load(file == null ? null : Path.of(file), o);
    }

    private static void putInt(Args a, ObjectNode o, String flag, String key) {
        if (a.get(flag, null) != null) o.put(key, a.getInt(flag, 0));
    }

    private static void putString(Args a, ObjectNode o, String flag, String key) {
        String v = a.get(flag, null);
        if (v != null) o.put(key, v);
    }

    @Override
    public int run(List<String> args, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(args, VALUE_OPTIONS, FLAGS);
        if (!a.positional().isEmpty()) throw new UsageException("unexpected argument " + a.positional().getFirst());
        EngineConfig config = config(a);
        if (config.models().isEmpty() && config.modelRoots().isEmpty()) {
            // the README's main job: serve the built-in demo model when nothing is configured
            List<String> withDemo = new ArrayList<>(args);
            withDemo.add("--model");
            withDemo.add(DemoModel.ensure(Log::info).toString());
            if (a.get("--default-size", null) == null && !fileSets(a.get("--config", null), "default_size")) {
                // the demo weights are random: keep its images small and quick unless asked otherwise
                withDemo.add("--default-size");
                withDemo.add(DEMO_SIZE);
            }
            a = new Args(withDemo, VALUE_OPTIONS, FLAGS);
            config = config(a);
            args = withDemo;
        }
        if (a.flag("--supervise")) return supervise(args, config);
        return serve(config, !a.flag("--supervised-child"), out);
    }

    private static int supervise(List<String> args, EngineConfig config) throws Exception {
        int port = config.port() == 0 ? freePort(config.host()) : config.port();
        List<String> child = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String s = args.get(i);
            if (s.equals("--supervise")) continue;
            if (s.equals("--port")) {
                i++;
                continue;
            }
            if (s.startsWith("--port=")) continue;
            child.add(s);
        }
        child.add("--port");
        child.add(Integer.toString(port));
        URI base = URI.create("http://" + (config.host().contains(":") ? "[" + config.host() + "]" : config.host()) + ":" + port);
        DaemonFile self = new DaemonFile(ProcessHandle.current().pid(), base, config.authToken());
        boolean registered = self.register();
        Log.info("supervising the server on " + base);
        return new Supervisor(child, base, Duration.ofSeconds(config.drainSeconds())).run(() -> {
            if (registered) self.unregister();
        });
    }

    private static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(host, 0));
            return s.getLocalPort();
        }
    }

    /** Runs engine + HTTP server until SIGTERM (a shutdown hook drains). */
    static int serve(EngineConfig config, boolean registerDaemon, PrintStream out) throws Exception {
        Engine engine = Engine.open(config, ModelRegistry.of(config), GeneratorFactory.fromSystem(config.backend()));
        ApiServer api = ApiServer.start(engine);
        DaemonFile daemon = new DaemonFile(ProcessHandle.current().pid(), api.uri(), config.authToken());
        boolean registered = registerDaemon && daemon.register();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Log.info("stopping: no new jobs; draining");
            engine.shutdown();
            api.stop(1);
            if (registered) daemon.unregister();
            stopped.countDown();
        }, "zimage-shutdown"));
        out.println("zimage: listening on " + api.uri() + " (models: " + String.join(", ", engine.registry().ids())
                + "; default " + engine.defaultModel() + "; output " + engine.store().dir() + ")");
        out.flush();
        engine.prewarmAndStart();
        long sinceStart = ProcessHandle.current().info().startInstant()
                .map(t -> Duration.between(t, Instant.now()).toMillis()).orElse(-1L);
        out.println("zimage: ready on " + api.uri() + " (" + sinceStart + " ms after process start)");
        out.flush();
        stopped.await();
        return 0;
    }
}
