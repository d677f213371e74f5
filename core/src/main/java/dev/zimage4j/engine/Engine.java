package dev.zimage4j.engine;

import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.CancelledException;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.ProgressListener;

import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;

/**
 * The resident engine: configured models, the job queue, the journal and one worker per compute device
 * (config key {@code devices}). Each worker owns its device and its own cache of loaded models (a model
 * used on two GPUs is loaded on each). Jobs are accepted ({@link #submit}), journaled and put on the one
 * bounded queue; whichever worker is free takes the oldest; finished images go to the {@link ImageStore}.
 *
 * <p>Lifecycle: {@link #open} replays the journal; {@link #prewarmAndStart} loads and warms the
 * configured models, then starts the workers and reports {@link #ready()}; {@link #shutdown} drains.
 */
public final class Engine implements AutoCloseable {
    /** Finished jobs kept in memory for {@code GET /v1/jobs/ID}. */
    private static final int KEEP_FINISHED = 10_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final EngineConfig config;
    private final ModelRegistry registry;
    private final LoadTrace trace = new LoadTrace();
    private final List<Worker> workers = new ArrayList<>();
    private final ImageStore store;
    private final Journal journal;
    private final Metrics metrics = new Metrics();
    private final String defaultModel;
    private final GeneratorFactory factory;

    private final LinkedBlockingDeque<Job> queue = new LinkedBlockingDeque<>();
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<String> finishedOrder = new ConcurrentLinkedQueue<>();
    private final Set<Job> running = ConcurrentHashMap.newKeySet();
    private final Object submitLock = new Object();
    private volatile boolean accepting = true, stopping, ready;
    private volatile double meanJobSeconds = 1.0;

    private Engine(EngineConfig config, ModelRegistry registry, GeneratorFactory factory) throws IOException {
        this.config = config;
        this.registry = registry;
        this.factory = factory;
        List<String> ids = registry.ids();
        if (ids.isEmpty()) throw new ConfigException("no model configured: pass --model DIR, or set models / model_roots in the config");
        this.defaultModel = config.defaultModel() != null ? config.defaultModel() : ids.getFirst();
        registry.resolve(defaultModel);
        List<Device> devices = factory.open(config.deviceList());
        for (Device d : devices) {
            GeneratorFactory onDevice = (id, dir, reporter) -> factory.load(id, dir, d, reporter);
            workers.add(new Worker(d, new ModelCache(registry::resolve, onDevice, trace, config.maxCachedModels(), config.keepModelInMemory())));
        }
        Log.info("workers: " + devices.stream().map(Device::name).toList());
        Path out = EngineConfig.expand(config.outputDir());
        try {
            this.store = new ImageStore(out);
            this.journal = Journal.open(out.resolve("journal.jsonl"));
        } catch (IOException | RuntimeException e) {
            closeFactory();  // the devices were opened above
            throw e;
        }
        registerGauges();
    }

    /** Opens the engine: checks the models, opens the output directory and replays the journal (no worker runs yet). */
    public static Engine open(EngineConfig config, ModelRegistry registry, GeneratorFactory factory) throws IOException {
        Engine e = new Engine(config, registry, factory);
        e.replay();
        return e;
    }

    private void replay() {
        int pending = 0;
        for (Journal.Entry e : journal.replayed()) {
            Job j = Job.fromJournal(e);
            jobs.put(j.id(), j);
            if (j.state().terminal()) {
                finishedOrder.add(j.id());
            } else {
                queue.add(j);
                pending++;
            }
        }
        updatePositions();
        if (pending > 0) Log.info("journal " + journal.file() + ": " + pending + " unfinished job(s) queued again");
    }

    private void registerGauges() {
        metrics.gauge("zimage_queue_depth", "Jobs waiting for a worker.", queue::size);
        metrics.gauge("zimage_jobs_running", "Jobs generating now.", running::size);
        metrics.gauge("zimage_ready", "1 once prewarm is done.", () -> ready ? 1 : 0);
        metrics.gauge("zimage_model_loads_total", "Model loads since start.", trace::count);
        metrics.gauge("zimage_model_cache_hits_total", "Requests whose model was already loaded (on their worker's device).", () -> sum(ModelCache::hits));
        metrics.gauge("zimage_model_cache_misses_total", "Requests that had to load their model.", () -> sum(ModelCache::misses));
        metrics.gauge("zimage_model_evictions_total", "Models unloaded to respect max_cached_models.", () -> sum(ModelCache::evictions));
        metrics.gauge("zimage_models_loaded", "Models held in memory (a model loaded on two devices counts twice).", () -> sum(c -> c.cached().size()));
        metrics.gauge("zimage_model_resident_bytes", "Memory the loaded models hold beyond mapped weights.", () -> sum(ModelCache::residentBytes));
        metrics.gauge("zimage_process_resident_bytes", "Resident set size of the server process.", Metrics::residentSetBytes);
        metrics.gauge("zimage_jvm_heap_used_bytes", "Java heap in use.", () -> Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory());
        for (Worker w : workers) {
            String l = "{device=\"" + w.device.name() + "\"}";
            metrics.gauge("zimage_device_jobs_total" + l, "Jobs a worker finished (done, failed or cancelled), by device.", w.jobsDone::get);
            metrics.gaugeDouble("zimage_device_busy_seconds_total" + l, "Seconds a worker spent running jobs, by device.", () -> w.busyNanos() / 1e9);
            metrics.gauge("zimage_device_busy" + l, "1 while the device's worker runs a job.", () -> w.current == null ? 0 : 1);
        }
    }

    private long sum(java.util.function.ToLongFunction<ModelCache> f) {
        long s = 0;
        for (Worker w : workers) s += f.applyAsLong(w.cache);
        return s;
    }

    /**
     * Loads every {@code prewarm_on_startup} model on every device and prewarms each configured resolution
     * (generations until their times settle, see {@link #prewarm}), then starts the workers; {@link #ready()}
     * is true afterwards.
     */
    public void prewarmAndStart() {
        List<String> models = config.prewarmOnStartup().models() == null ? List.of(defaultModel) : config.prewarmOnStartup().models();
        for (Worker w : workers) for (String m : models) {
            try (ModelCache.Lease lease = w.cache.acquire(m, "startup prewarm" + w.on())) {
                for (int[] wh : config.prewarmResolutions()) prewarm(lease, m, wh);
            }
        }
        for (Worker w : workers) w.start();
        ready = true;
    }

    /**
     * Runs generations at one resolution, each with its PNG encoding as a request has it, until two
     * consecutive ones take times within the configured tolerance (the JIT has compiled the hot paths) or
     * the run limit is reached, and logs each time.
     */
    private void prewarm(ModelCache.Lease lease, String model, int[] wh) {
        EngineConfig.Prewarm p = config.prewarmOnStartup();
        int steps = lease.generator().prewarmSteps(config.defaultSteps());
        GenerationRequest r = new GenerationRequest("prewarm", "", wh[0], wh[1], steps, 0.0, 0, 1, null, 0.6).validate();
        List<String> times = new ArrayList<>();
        long start = System.nanoTime();
        double previous = Double.NaN;
        boolean settled = false;
        for (int run = 0; run < p.maxRuns() && !settled; run++) {
            long t0 = System.nanoTime();
            List<GeneratedImage> out = lease.generator().generate(r, ProgressListener.NONE, new CancellationToken());
            // a request's image is encoded too (its "png" stage): warm that code as well, the bytes are dropped
            ImageStore.encodePng(out.getFirst(), lease.generator().modelId());
            lease.markWarm();
            double ms = (System.nanoTime() - t0) / 1e6;
            times.add(String.format("%.0f", ms));
            settled = Math.abs(ms - previous) <= p.settleTolerance() * Math.min(ms, previous);
            previous = ms;
        }
        // "prewarm MODEL WxH, N steps: TOTAL ms" first: zimage bench reads that prefix
        Log.info(String.format("prewarm %s %dx%d, %d steps: %.0f ms (%d runs: %s ms; %s)", model, wh[0], wh[1], r.steps(),
                (System.nanoTime() - start) / 1e6, times.size(), String.join(", ", times),
                settled ? "settled within " + Math.round(p.settleTolerance() * 100) + " %" : "run limit " + p.maxRuns() + " reached"));
    }

    /** True once prewarm is done and the workers run. */
    public boolean ready() {
        return ready && !stopping;
    }

    /**
     * Accepts a job: validates it, checks the model, journals it (on disk before this returns) and queues it.
     *
     * @throws dev.zimage4j.pipeline.InvalidRequestException naming the bad field
     * @throws UnknownModelException                         for a model that is not configured
     * @throws QueueFullException                            when {@code queue_capacity} jobs already wait
     * @throws ShuttingDownException                         while draining
     */
    public Job submit(GenerationRequest request, String model) {
        return submit(request, model, "api");
    }

    /** {@link #submit(GenerationRequest, String)} on behalf of {@code origin} ("api", "cli"), shown in the load trace. */
    public Job submit(GenerationRequest request, String model, String origin) {
        request.validate();
        checkPromptLength("prompt", request.prompt());
        checkPromptLength("negative_prompt", request.negativePrompt());
        String m = model == null ? defaultModel : model;
        registry.resolve(m);
        synchronized (submitLock) {
            if (!accepting) throw new ShuttingDownException();
            if (queue.size() >= config.queueCapacity()) {
                metrics.increment("zimage_jobs_rejected_total{reason=\"queue_full\"}");
                throw new QueueFullException(config.queueCapacity(), retryAfterSeconds());
            }
            String id;
            do id = "j" + HexFormat.of().toHexDigits(RANDOM.nextLong()); while (jobs.containsKey(id));
            Job job = new Job(id, m, request, Instant.now(), origin);
            journal.accepted(job);
            jobs.put(id, job);
            queue.add(job);
            job.queuedAt(queue.size());
            metrics.increment("zimage_jobs_accepted_total");
            return job;
        }
    }

    private void checkPromptLength(String field, String text) {
        if (text.length() > config.maxPromptChars())
            throw new dev.zimage4j.pipeline.InvalidRequestException(field, "is " + text.length() + " characters; at most " + config.maxPromptChars() + " (max_prompt_chars)");
    }

    /** Seconds a client refused with 429 should wait: the queue ahead times the mean job time. */
    public int retryAfterSeconds() {
        return (int) Math.max(1, Math.min(3600, Math.ceil(meanJobSeconds * (queue.size() + 1))));
    }

    /** The job with this id, if known (running, queued, or among the recent finished ones). */
    public Optional<Job> job(String id) {
        return Optional.ofNullable(id == null ? null : jobs.get(id));
    }

    /**
     * Cancels a job: a queued one is removed at once, a running one stops at its next step.
     *
     * @return false when the job is unknown or already finished
     */
    public boolean cancel(String id, String reason) {
        Job j = jobs.get(id);
        if (j == null || j.state().terminal()) return false;
        if (queue.remove(j)) {
            journal.ended(j.id(), Job.State.CANCELLED, reason);
            j.cancelled(reason);
            jobFinished(j, "cancelled");
            updatePositions();
        } else {
            j.cancellation().cancel(reason);
        }
        return true;
    }

    private void updatePositions() {
        int pos = 1;
        for (Job j : queue) j.queuedAt(pos++);
    }

    private void run(Job job, Worker worker) {
        if (job.state().terminal()) return;
        running.add(job);
        long t0 = System.nanoTime();
        metrics.observeStage("queue_wait", Math.max(0, Duration.between(job.accepted(), Instant.now()).toNanos() / 1e9));
        job.started();
        try (ModelCache.Lease lease = worker.cache.acquire(job.model(), "request " + job.id() + (job.origin().equals("api") ? "" : " (" + job.origin() + ")") + worker.on())) {
            metrics.observeStage("model_acquire", (System.nanoTime() - t0) / 1e9);
            long[] lastStep = {0};
            List<GeneratedImage> out = lease.generator().generate(job.request(), (img, step, steps) -> {
                long now = System.nanoTime();
                // the first callback's interval would include text encoding: step latency counts from the second
                if (lastStep[0] != 0) metrics.observeDeviceStep(worker.device.name(), (now - lastStep[0]) / 1e9);
                lastStep[0] = now;
                job.stepped(img, step);
            }, job.cancellation());
            lease.markWarm();
            List<Job.Image> images = new ArrayList<>();
            Map<String, Double> stages = new LinkedHashMap<>();
            for (int i = 0; i < out.size(); i++) {
                GeneratedImage g = out.get(i);
                String name = job.id() + "-" + i + ".png";
                long tw = System.nanoTime();
                store.write(name, g, lease.generator().modelId());
                images.add(new Job.Image(name, g.seed(), g.width(), g.height()));
                g.stageMillis().forEach((k, v) -> stages.merge(k, v, Double::sum));
                stages.merge("png", (System.nanoTime() - tw) / 1e6, Double::sum);
            }
            // per-step entries ("step 3") are summed in "denoise"; one histogram per step number would only add noise
            stages.forEach((k, v) -> {
                if (!k.startsWith("step ")) metrics.observeStage(k, v / 1e3);
            });
            journal.done(job.id(), images);
            worker.account();
            job.done(images, stages);
            jobFinished(job, "done");
        } catch (CancelledException e) {
            if (job.interruptedByShutdown()) {
                Log.info("job " + job.id() + " interrupted by shutdown; it stays in the journal and runs again on restart");
            } else {
                journal.ended(job.id(), Job.State.CANCELLED, e.getMessage());
                worker.account();
                job.cancelled(e.getMessage());
                jobFinished(job, "cancelled");
            }
        } catch (Exception | Error e) { // an Error (e.g. NoClassDefFoundError) fails the job; the worker lives on
            String msg = e.getMessage() == null ? e.toString() : e.getMessage();
            Log.info("job " + job.id() + " failed: " + msg);
            journal.ended(job.id(), Job.State.FAILED, msg);
            worker.account();
            job.failed(msg);
            jobFinished(job, "failed");
        } finally {
            running.remove(job);
            double s = (System.nanoTime() - t0) / 1e9;
            metrics.observeStage("total", s);
            meanJobSeconds = 0.8 * meanJobSeconds + 0.2 * s;
        }
    }

    private void jobFinished(Job job, String outcome) {
        metrics.increment("zimage_jobs_finished_total{outcome=\"" + outcome + "\"}");
        finishedOrder.add(job.id());
        while (finishedOrder.size() > KEEP_FINISHED) {
            String old = finishedOrder.poll();
            if (old != null) jobs.remove(old);
        }
    }

    /** Loads model {@code id} now on every worker's device (no-op where loaded), on behalf of {@code trigger}. */
    public void load(String id, String trigger) {
        registry.resolve(id);
        for (Worker w : workers) {
            try (ModelCache.Lease ignored = w.cache.acquire(id, trigger + w.on())) {
                // acquiring loads it; releasing keeps it cached (unless keep_model_in_memory is false)
            }
        }
    }

    /** Unloads model {@code id} from every device; false when it was loaded on none. */
    public boolean unload(String id) {
        registry.resolve(id);
        boolean any = false;
        for (Worker w : workers) any |= w.cache.unload(id);
        return any;
    }

    public int queueDepth() {
        return queue.size();
    }

    public String defaultModel() {
        return defaultModel;
    }

    public EngineConfig config() {
        return config;
    }

    public ModelRegistry registry() {
        return registry;
    }

    /** The first worker's model cache (the only one with a single device). */
    public ModelCache cache() {
        return workers.getFirst().cache;
    }

    /** Each worker's model cache, by device name, in worker order. */
    public Map<String, ModelCache> caches() {
        Map<String, ModelCache> out = new LinkedHashMap<>();
        for (Worker w : workers) out.put(w.device.name(), w.cache);
        return out;
    }

    /**
     * One worker as {@code /healthz} shows it.
     *
     * @param device      the device name ("cuda:0", "cpu")
     * @param state       "starting" (before prewarm is done), "idle", "busy" or "stopped"
     * @param job         the job it runs, or null
     * @param jobsDone    jobs it ran to an end (done, failed, cancelled, or interrupted by shutdown)
     * @param busySeconds time it spent running jobs
     * @param models      models loaded on its device
     */
    public record WorkerStatus(String device, String state, String job, long jobsDone, double busySeconds, List<String> models) {
    }

    /** The workers, one per device, in configuration order. */
    public List<WorkerStatus> workers() {
        List<WorkerStatus> out = new ArrayList<>();
        for (Worker w : workers) {
            Job j = w.current;
            String state = w.thread == null ? "starting" : !w.thread.isAlive() ? "stopped" : j != null ? "busy" : "idle";
            out.add(new WorkerStatus(w.device.name(), state, j == null ? null : j.id(), w.jobsDone.get(), w.busyNanos() / 1e9,
                    w.cache.cached().stream().filter(c -> !c.loading()).map(ModelCache.Cached::id).toList()));
        }
        return out;
    }

    public LoadTrace loadTrace() {
        return trace;
    }

    public Metrics metrics() {
        return metrics;
    }

    public ImageStore store() {
        return store;
    }

    /** Whether new jobs are accepted (false once draining). */
    public boolean accepting() {
        return accepting;
    }

    /**
     * Drains: accepts nothing more, lets the running job finish for up to {@code drain_seconds}
     * (then cancels it, leaving it journaled), leaves queued jobs in the journal for the next start,
     * closes the journal and, with {@code unload_on_exit}, the models.
     */
    public void shutdown() {
        synchronized (submitLock) {
            if (!accepting) return;
            accepting = false;
        }
        stopping = true;
        Log.info("draining: " + running.size() + " running, " + queue.size() + " queued (kept in the journal)");
        joinWorkers(Duration.ofSeconds(config.drainSeconds()));
        if (!running.isEmpty()) {
            for (Job j : running) j.interruptForShutdown();
            joinWorkers(Duration.ofSeconds(30));
        }
        try {
            journal.close();
        } catch (IOException e) {
            Log.info("closing journal: " + e.getMessage());
        }
        if (config.unloadOnExit()) {
            for (Worker w : workers) w.cache.close();
            closeFactory();
        }
        Log.info("engine stopped");
    }

    private void closeFactory() {
        if (factory instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                Log.info("closing the backend: " + e);
            }
        }
    }

    private void joinWorkers(Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        for (Worker w : workers) {
            if (w.thread == null) continue;
            try {
                long left = deadline - System.nanoTime();
                if (left > 0) w.thread.join(Duration.ofNanos(left));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        shutdown();
    }

    /**
     * One compute device's worker: a platform thread that takes the oldest queued job whenever it is free and
     * runs it on its own device's models. It never runs two jobs at once.
     */
    private final class Worker {
        final Device device;
        final ModelCache cache;
        final java.util.concurrent.atomic.AtomicLong jobsDone = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.concurrent.atomic.AtomicLong busyNanosDone = new java.util.concurrent.atomic.AtomicLong();
        private volatile long busySince;
        volatile Job current;
        volatile Thread thread;

        Worker(Device device, ModelCache cache) {
            this.device = device;
            this.cache = cache;
        }

        /** " on cuda:1" for load-trace triggers and logs when there are several workers, else "". */
        String on() {
            return workers.size() > 1 ? " on " + device.name() : "";
        }

        long busyNanos() {
            long since = busySince;
            return busyNanosDone.get() + (current != null && since != 0 ? Math.max(0, System.nanoTime() - since) : 0);
        }

        void start() {
            thread = Thread.ofPlatform().name("zimage-worker-" + device.name()).start(this::loop);
        }

        private void loop() {
            while (!stopping) {
                Job job;
                try {
                    job = queue.poll(100, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    return;
                }
                if (job == null) continue;
                updatePositions();
                if (job.state().terminal()) continue;
                busySince = System.nanoTime();
                current = job;
                try {
                    run(job, this);
                } finally {
                    account();
                }
            }
        }

        /**
         * Counts the current job into jobs done and busy time; called before the job's end is published, so a
         * client that sees its job finish also sees it counted. Idempotent per job.
         */
        void account() {
            if (current == null) return;
            busyNanosDone.addAndGet(System.nanoTime() - busySince);
            jobsDone.incrementAndGet();
            current = null;
        }
    }
}
