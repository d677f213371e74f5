package dev.zimage4j.engine;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.pipeline.DemoModel;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.InvalidRequestException;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The engine and server configuration: one JSON file, every key optional, flags override keys
 * (see docs/server.md for each key and its default). Unknown keys and wrong types are a
 * {@link ConfigException} naming the key.
 *
 * @param host               bind address; anything but loopback needs {@code auth_token}
 * @param port               TCP port (0: any free port)
 * @param authToken          bearer token every endpoint but /healthz requires, or null for none
 * @param maxBodyBytes       largest accepted request body
 * @param maxPromptChars     longest accepted prompt / negative prompt
 * @param queueCapacity      jobs that may wait behind the running ones (more: 429)
 * @param outputDir          where images and the job journal are written
 * @param models             model id → model directory
 * @param modelRoots         directories whose sub-directories are models (id = sub-directory name)
 * @param defaultModel       the model of requests that name none (null: the first configured)
 * @param maxCachedModels    loaded models kept in memory at most (least recently used idle one evicted)
 * @param keepModelInMemory  false unloads a model as soon as no job uses it (the "reload per request" mode)
 * @param prewarmOnStartup   what to load and run once before /readyz says ready
 * @param unloadOnExit       close loaded models when the server exits
 * @param drainSeconds       on SIGTERM, how long running work may take to finish before it is left to the journal
 * @param syncTimeoutSeconds how long a synchronous request waits for its job
 * @param defaultSize        WIDTHxHEIGHT of requests that give none
 * @param defaultSteps       steps of requests that give none
 * @param backend            compute backend: "auto" (CUDA when usable, else CPU), "cpu" or "cuda"; the default of {@code devices}
 * @param devices            the devices to run one worker each on ({@link Device#parse}): e.g. ["cuda:0","cuda:1"],
 *                           "cpu:2", "auto"; a single string is accepted. Unset: "cpu" for backend cpu, "cuda:0" for
 *                           backend cuda, "auto" (every visible GPU, else one CPU worker) for backend auto
 */
public record EngineConfig(
        @JsonProperty("host") String host,
        @JsonProperty("port") Integer port,
        @JsonProperty("auth_token") String authToken,
        @JsonProperty("max_body_bytes") Long maxBodyBytes,
        @JsonProperty("max_prompt_chars") Integer maxPromptChars,
        @JsonProperty("queue_capacity") Integer queueCapacity,
        @JsonProperty("output_dir") String outputDir,
        @JsonProperty("models") Map<String, String> models,
        @JsonProperty("model_roots") List<String> modelRoots,
        @JsonProperty("default_model") String defaultModel,
        @JsonProperty("max_cached_models") Integer maxCachedModels,
        @JsonProperty("keep_model_in_memory") Boolean keepModelInMemory,
        @JsonProperty("prewarm_on_startup") Prewarm prewarmOnStartup,
        @JsonProperty("unload_on_exit") Boolean unloadOnExit,
        @JsonProperty("drain_seconds") Integer drainSeconds,
        @JsonProperty("sync_timeout_seconds") Integer syncTimeoutSeconds,
        @JsonProperty("default_size") String defaultSize,
        @JsonProperty("default_steps") Integer defaultSteps,
        @JsonProperty("backend") String backend,
        @JsonProperty("devices") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> devices) {

    public static final int DEFAULT_PORT = 8777;

    /**
     * What to warm before ready: each model is loaded and, per resolution, runs full generations until
     * the JIT has settled: until two consecutive ones take times within {@code settleTolerance} of each
     * other, or {@code maxRuns} have run. The first generation in a process runs mostly interpreted and
     * C1 code while C2 compiles; one generation leaves the first request about 1.6× a warm one.
     *
     * @param models          model ids (null: the default model; empty: prewarm nothing)
     * @param resolutions     WIDTHxHEIGHT strings (null: {@code default_size})
     * @param maxRuns         generations per resolution at most (null: 3; 1 is the old single prewarm)
     * @param settleTolerance relative difference of two consecutive generation times that counts as
     *                        settled (null: 0.10)
     */
    public record Prewarm(@JsonProperty("models") List<String> models,
                          @JsonProperty("resolutions") List<String> resolutions,
                          @JsonProperty("max_runs") Integer maxRuns,
                          @JsonProperty("settle_tolerance") Double settleTolerance) {
        /** Fills the missing run count and tolerance with their defaults. */
        public Prewarm {
            maxRuns = maxRuns == null ? 3 : maxRuns;
            settleTolerance = settleTolerance == null ? 0.10 : settleTolerance;
        }
    }

    /** Fills every missing key with its documented default. */
    public EngineConfig {
        host = host == null ? "127.0.0.1" : host;
        port = port == null ? DEFAULT_PORT : port;
        authToken = authToken == null || authToken.isEmpty() ? null : authToken;
        maxBodyBytes = maxBodyBytes == null ? 1L << 20 : maxBodyBytes;
        maxPromptChars = maxPromptChars == null ? 4000 : maxPromptChars;
        queueCapacity = queueCapacity == null ? 32 : queueCapacity;
        outputDir = outputDir == null ? home().resolve("output").toString() : outputDir;
        models = models == null ? Map.of() : Map.copyOf(new LinkedHashMap<>(models));
        modelRoots = modelRoots == null ? List.of() : List.copyOf(modelRoots);
        maxCachedModels = maxCachedModels == null ? 2 : maxCachedModels;
        keepModelInMemory = keepModelInMemory == null || keepModelInMemory;
        prewarmOnStartup = prewarmOnStartup == null ? new Prewarm(null, null, null, null) : prewarmOnStartup;
        unloadOnExit = unloadOnExit == null || unloadOnExit;
        drainSeconds = drainSeconds == null ? 60 : drainSeconds;
        syncTimeoutSeconds = syncTimeoutSeconds == null ? 600 : syncTimeoutSeconds;
        defaultSize = defaultSize == null ? "1024x1024" : defaultSize;
        defaultSteps = defaultSteps == null ? 8 : defaultSteps;
        backend = backend == null ? "auto" : backend;
        devices = devices == null ? List.of(switch (backend) {
            case "cpu" -> "cpu";
            case "cuda" -> "cuda:0";
            default -> "auto";
        }) : java.util.Collections.unmodifiableList(new ArrayList<>(devices));
    }

    /** Every default: no file, no flags. */
    public static EngineConfig defaults() {
        return fromJson(JsonMapper.builder().build().createObjectNode(), "defaults");
    }

    /**
     * The state directory, shared with the demo model's cache: {@code -Dzimage.cache.dir}, else
     * {@code $XDG_CACHE_HOME/zimage4j}, else {@code ~/.cache/zimage4j} ({@link DemoModel#cacheRoot()}).
     */
    public static Path home() {
        return DemoModel.cacheRoot();
    }

    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build();

    /**
     * Reads {@code file} (may be null for none), applies {@code overrides} (keys as in the file, e.g.
     * from command-line flags) on top, and checks the result.
     */
    public static EngineConfig load(Path file, ObjectNode overrides) {
        ObjectNode merged = STRICT.createObjectNode();
        String source = "flags";
        if (file != null) {
            source = file.toString();
            JsonNode tree;
            try {
                tree = STRICT.readTree(Files.readString(file));
            } catch (JsonProcessingException e) {
                throw new ConfigException("config " + file + " is not valid JSON: " + e.getOriginalMessage()
                        + " (line " + e.getLocation().getLineNr() + ")");
            } catch (IOException e) {
                throw new ConfigException("cannot read config " + file + ": " + e.getMessage(), e);
            }
            if (tree == null || !tree.isObject()) throw new ConfigException("config " + file + " must be a JSON object");
            merged.setAll((ObjectNode) tree);
        }
        if (overrides != null)
            overrides.properties().forEach(e -> {
                // a flag that sets part of prewarm_on_startup (--prewarm: its resolutions) keeps the file's other fields
                if (e.getKey().equals("prewarm_on_startup") && merged.get(e.getKey()) instanceof ObjectNode base
                        && e.getValue() instanceof ObjectNode part) base.setAll(part);
                else merged.set(e.getKey(), e.getValue());
            });
        return fromJson(merged, source);
    }

    private static EngineConfig fromJson(ObjectNode tree, String source) {
        EngineConfig c;
        try {
            c = STRICT.treeToValue(tree, EngineConfig.class);
        } catch (UnrecognizedPropertyException e) {
            throw new ConfigException("unknown config key '" + path(e) + "' in " + source + "; known keys: "
                    + e.getKnownPropertyIds().stream().map(Object::toString).sorted().collect(Collectors.joining(", ")));
        } catch (MismatchedInputException e) {
            throw new ConfigException("config key '" + path(e) + "' in " + source + " has the wrong type: "
                    + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (JsonProcessingException e) {
            throw new ConfigException("config " + source + ": " + e.getOriginalMessage());
        }
        return c.check();
    }

    private static String path(MismatchedInputException e) {
        return e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."));
    }

    private EngineConfig check() {
        if (port < 0 || port > 65535) throw new ConfigException("port must be 0..65535, got " + port);
        if (maxBodyBytes < 1024) throw new ConfigException("max_body_bytes must be at least 1024, got " + maxBodyBytes);
        if (maxPromptChars < 1) throw new ConfigException("max_prompt_chars must be positive, got " + maxPromptChars);
        if (queueCapacity < 1) throw new ConfigException("queue_capacity must be at least 1, got " + queueCapacity);
        if (maxCachedModels < 1) throw new ConfigException("max_cached_models must be at least 1, got " + maxCachedModels);
        if (drainSeconds < 0) throw new ConfigException("drain_seconds must be >= 0, got " + drainSeconds);
        if (syncTimeoutSeconds < 1) throw new ConfigException("sync_timeout_seconds must be positive, got " + syncTimeoutSeconds);
        if (defaultSteps < 1 || defaultSteps > GenerationRequest.MAX_STEPS)
            throw new ConfigException("default_steps must be 1.." + GenerationRequest.MAX_STEPS + ", got " + defaultSteps);
        parseSize("default_size", defaultSize);
        if (!List.of("auto", "cpu", "cuda").contains(backend))
            throw new ConfigException("backend must be auto, cpu or cuda, got '" + backend + "'");
        Device.parse(devices);
        if (prewarmOnStartup.resolutions() != null)
            for (String r : prewarmOnStartup.resolutions()) parseSize("prewarm_on_startup.resolutions", r);
        if (prewarmOnStartup.maxRuns() < 1 || prewarmOnStartup.maxRuns() > 20)
            throw new ConfigException("prewarm_on_startup.max_runs must be 1..20, got " + prewarmOnStartup.maxRuns());
        if (!(prewarmOnStartup.settleTolerance() > 0 && prewarmOnStartup.settleTolerance() <= 1))
            throw new ConfigException("prewarm_on_startup.settle_tolerance must be in (0, 1], got " + prewarmOnStartup.settleTolerance());
        if (authToken == null && !isLoopback(host))
            throw new ConfigException("host " + host + " is not a loopback address: set auth_token (or --token / ZIMAGE_TOKEN) to bind it");
        return this;
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            throw new ConfigException("host '" + host + "' does not resolve");
        }
    }

    /** {@code "512x768"} → {512, 768}, checked like a request's width and height. */
    public static int[] parseSize(String key, String s) {
        String[] p = s == null ? new String[0] : s.toLowerCase().split("x");
        try {
            if (p.length == 2) {
                int w = Integer.parseInt(p[0].trim()), h = Integer.parseInt(p[1].trim());
                GenerationRequest.of("size check", 0).withSize(w, h).validate();
                return new int[]{w, h};
            }
        } catch (NumberFormatException | InvalidRequestException e) {
            throw new ConfigException(key + " must be WIDTHxHEIGHT with multiples of 16 in "
                    + GenerationRequest.MIN_SIZE + ".." + GenerationRequest.MAX_SIZE + ", got '" + s + "'");
        }
        throw new ConfigException(key + " must be WIDTHxHEIGHT (e.g. 1024x1024), got '" + s + "'");
    }

    /** {@link #defaultSize()} as {width, height}. */
    public int[] defaultWidthHeight() {
        return parseSize("default_size", defaultSize);
    }

    /** {@link #devices()} parsed: one entry per worker ({@link Device#AUTO} alone until the devices are opened). */
    public List<Device> deviceList() {
        return Device.parse(devices);
    }

    /** The prewarm resolutions as {width, height} pairs. */
    public List<int[]> prewarmResolutions() {
        List<int[]> out = new ArrayList<>();
        List<String> r = prewarmOnStartup.resolutions() == null ? List.of(defaultSize) : prewarmOnStartup.resolutions();
        for (String s : r) out.add(parseSize("prewarm_on_startup.resolutions", s));
        return out;
    }

    /** Path with a leading {@code ~} expanded, made absolute against the working directory. */
    public static Path expand(String p) {
        if (p.equals("~") || p.startsWith("~/")) p = System.getProperty("user.home") + p.substring(1);
        return Path.of(p).toAbsolutePath().normalize();
    }
}
