package dev.zimage4j.engine;

import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.GenerationRequest;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * One accepted generation: its request, its state, its progress and, once done, the names of its images
 * in the output directory. Listeners see every state change and step as a {@link Event}.
 */
public final class Job {

    /** Lifecycle; the last three are final. */
    public enum State {
        QUEUED, RUNNING, DONE, FAILED, CANCELLED;

        public boolean terminal() {
            return this == DONE || this == FAILED || this == CANCELLED;
        }

        public String json() {
            return name().toLowerCase();
        }
    }

    /** A finished image: its file name in the output directory (served at /v1/images/NAME) and seed. */
    public record Image(String name, long seed, int width, int height) {
    }

    /**
     * A change listeners see: {@code queued} (position), {@code started}, {@code step} (image, step, steps),
     * {@code done} (the job), {@code failed} (error), {@code cancelled} (reason).
     */
    public record Event(String type, Map<String, Object> data) {
        public boolean terminal() {
            return type.equals("done") || type.equals("failed") || type.equals("cancelled");
        }
    }

    private final String id;
    private final String model;
    private final GenerationRequest request;
    private final Instant accepted;
    private final String origin;
    private final CancellationToken cancel = new CancellationToken();
    private final CompletableFuture<Job> finished = new CompletableFuture<>();
    private final List<Consumer<Event>> listeners = new ArrayList<>();

    private State state = State.QUEUED;
    private int position, image, step;
    private String error;
    private List<Image> images = List.of();
    private Map<String, Double> stageMillis = Map.of();
    private boolean interruptedByShutdown;

    Job(String id, String model, GenerationRequest request, Instant accepted) {
        this(id, model, request, accepted, "api");
    }

    /** @param origin who submitted it ("api", "cli", "journal replay"); shown in the load trace */
    Job(String id, String model, GenerationRequest request, Instant accepted, String origin) {
        this.id = id;
        this.model = model;
        this.request = request;
        this.accepted = accepted;
        this.origin = origin;
    }

    /** A job as the journal remembers it: finished ones come back finished, others queued. */
    static Job fromJournal(Journal.Entry e) {
        Job j = new Job(e.id(), e.model(), e.request(), e.accepted(), "journal replay");
        if (e.state().terminal()) {
            j.state = e.state();
            j.images = e.images();
            j.error = e.error();
            j.finished.complete(j);
        }
        return j;
    }

    public String id() {
        return id;
    }

    public String model() {
        return model;
    }

    public GenerationRequest request() {
        return request;
    }

    public Instant accepted() {
        return accepted;
    }

    /** Who submitted it: "api", "cli" (the zimage CLI through LocalClient) or "journal replay". */
    public String origin() {
        return origin;
    }

    public synchronized State state() {
        return state;
    }

    public synchronized List<Image> images() {
        return images;
    }

    public synchronized String error() {
        return error;
    }

    /** Completes with this job when it reaches a final state. */
    public CompletableFuture<Job> finished() {
        return finished;
    }

    CancellationToken cancellation() {
        return cancel;
    }

    /** The job's JSON view ({@code GET /v1/jobs/ID}). */
    public synchronized Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("status", state.json());
        m.put("model", model);
        m.put("accepted_at", accepted.toString());
        if (state == State.QUEUED) m.put("queue_position", position);
        if (state == State.RUNNING) m.put("progress", progress());
        if (!images.isEmpty()) {
            List<Map<String, Object>> imgs = new ArrayList<>();
            for (Image i : images)
                imgs.add(Map.of("name", i.name(), "url", "/v1/images/" + i.name(), "seed", i.seed(), "width", i.width(), "height", i.height()));
            m.put("images", imgs);
        }
        if (!stageMillis.isEmpty()) m.put("timings_ms", stageMillis);
        if (error != null) m.put("error", error);
        return m;
    }

    private Map<String, Object> progress() {
        return Map.of("image", image, "step", step, "steps", request.steps(), "images", request.count());
    }

    /**
     * Adds a listener; it first receives the current state (so no change is missed between the call and
     * the first event). Returns what removes it.
     */
    public synchronized Runnable subscribe(Consumer<Event> listener) {
        listeners.add(listener);
        listener.accept(switch (state) {
            case QUEUED -> new Event("queued", Map.of("position", position));
            case RUNNING -> new Event("step", progress());
            case DONE -> new Event("done", describe());
            case FAILED -> new Event("failed", Map.of("error", error));
            case CANCELLED -> new Event("cancelled", Map.of("reason", error));
        });
        return () -> unsubscribe(listener);
    }

    private synchronized void unsubscribe(Consumer<Event> listener) {
        listeners.remove(listener);
    }

    private void fire(Event e) {
        for (Consumer<Event> l : List.copyOf(listeners)) {
            try {
                l.accept(e);
            } catch (RuntimeException ex) {
                Log.info("job " + id + " listener failed: " + ex);
            }
        }
    }

    synchronized void queuedAt(int position) {
        if (state != State.QUEUED || this.position == position) return;
        this.position = position;
        fire(new Event("queued", Map.of("position", position)));
    }

    synchronized void started() {
        state = State.RUNNING;
        fire(new Event("started", Map.of("model", model)));
    }

    synchronized void stepped(int image, int step) {
        this.image = image;
        this.step = step;
        fire(new Event("step", progress()));
    }

    synchronized void done(List<Image> images, Map<String, Double> stageMillis) {
        this.images = List.copyOf(images);
        this.stageMillis = stageMillis;
        finish(State.DONE, null, new Event("done", null));
    }

    synchronized void failed(String error) {
        finish(State.FAILED, error, new Event("failed", Map.of("error", error)));
    }

    synchronized void cancelled(String reason) {
        finish(State.CANCELLED, reason, new Event("cancelled", Map.of("reason", reason)));
    }

    private void finish(State s, String err, Event e) {
        if (state.terminal()) return;
        state = s;
        error = err;
        fire(e.data() == null ? new Event(e.type(), describe()) : e);
        listeners.clear();
        finished.complete(this);
    }

    /** Marks that the shutdown (not a client) cancelled it: it stays journaled and is re-run on restart. */
    synchronized void interruptForShutdown() {
        interruptedByShutdown = true;
        cancel.cancel("server shutting down");
    }

    synchronized boolean interruptedByShutdown() {
        return interruptedByShutdown;
    }
}
