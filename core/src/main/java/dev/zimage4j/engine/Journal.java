package dev.zimage4j.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.pipeline.GenerationRequest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The job journal: one JSON line per event ({@code accepted} with the full request, then one of
 * {@code done}, {@code failed}, {@code cancelled}), appended and forced to disk before the server
 * answers, so an accepted job survives a crash. On open the journal is replayed: finished jobs come back
 * as history, unfinished ones are run again. A torn last line (crash mid-write) is skipped.
 */
public final class Journal implements AutoCloseable {

    /** Finished jobs kept in the journal when it is compacted on open. */
    static final int KEEP_FINISHED = 1000;

    /** A job as the journal remembers it; {@code state} is QUEUED for jobs that never finished. */
    public record Entry(String id, String model, GenerationRequest request, Instant accepted, Job.State state,
                        List<Job.Image> images, String error) {
    }

    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private final Path file;
    private final FileChannel channel;
    private final List<Entry> replayed;

    private Journal(Path file, List<Entry> replayed) throws IOException {
        this.file = file;
        this.replayed = replayed;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    /** Opens (creating) the journal at {@code file}, reading and compacting what it holds. */
    public static Journal open(Path file) throws IOException {
        return open(file, KEEP_FINISHED);
    }

    /** {@link #open(Path)} keeping {@code keepFinished} finished jobs when compacting (tests). */
    static Journal open(Path file, int keepFinished) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Map<String, ObjectNode> accepted = new LinkedHashMap<>();
        Map<String, ObjectNode> outcome = new LinkedHashMap<>();
        if (Files.exists(file)) {
            int lineNo = 0;
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                lineNo++;
                if (line.isBlank()) continue;
                try {
                    ObjectNode n = (ObjectNode) JSON.readTree(line);
                    String id = n.get("id").asText();
                    if (n.get("t").asText().equals("accepted")) accepted.put(id, n);
                    else outcome.put(id, n);
                } catch (IOException | RuntimeException e) {
                    Log.info("journal " + file + ": skipping unreadable line " + lineNo + " (" + e.getClass().getSimpleName() + ")");
                }
            }
        }
        List<Entry> entries = new ArrayList<>();
        for (var e : accepted.entrySet()) entries.add(entry(e.getValue(), outcome.get(e.getKey())));
        // compaction: every unfinished job, plus the most recent finished ones
        long finished = entries.stream().filter(e -> e.state().terminal()).count();
        List<Entry> kept = new ArrayList<>();
        for (Entry e : entries) {
            if (e.state().terminal() && finished > keepFinished) {
                finished--;
                continue;
            }
            kept.add(e);
        }
        if (kept.size() < entries.size()) rewrite(file, kept, accepted, outcome);
        return new Journal(file, List.copyOf(kept));
    }

    private static void rewrite(Path file, List<Entry> kept, Map<String, ObjectNode> accepted, Map<String, ObjectNode> outcome)
            throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Entry e : kept) {
            sb.append(accepted.get(e.id())).append('\n');
            if (outcome.containsKey(e.id())) sb.append(outcome.get(e.id())).append('\n');
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            c.write(ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8)));
            c.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static Entry entry(ObjectNode a, ObjectNode out) {
        JsonNode r = a.get("request");
        GenerationRequest req = new GenerationRequest(r.get("prompt").asText(), r.get("negative_prompt").asText(),
                r.get("width").asInt(), r.get("height").asInt(), r.get("steps").asInt(), r.get("guidance").asDouble(),
                r.get("seed").asLong(), r.get("count").asInt(), null, 0.6);
        Job.State state = Job.State.QUEUED;
        List<Job.Image> images = List.of();
        String error = null;
        if (out != null) {
            state = Job.State.valueOf(out.get("t").asText().toUpperCase());
            if (out.has("images")) {
                images = new ArrayList<>();
                for (JsonNode i : out.get("images"))
                    images.add(new Job.Image(i.get("name").asText(), i.get("seed").asLong(), i.get("width").asInt(), i.get("height").asInt()));
            }
            if (out.has("error")) error = out.get("error").asText();
        }
        return new Entry(a.get("id").asText(), a.get("model").asText(), req, Instant.ofEpochMilli(a.get("at").asLong()), state, images, error);
    }

    /** What the journal held when opened (after compaction), in acceptance order. */
    public List<Entry> replayed() {
        return replayed;
    }

    public Path file() {
        return file;
    }

    /** Records an accepted job; returns once it is on disk. */
    public void accepted(Job job) {
        GenerationRequest r = job.request();
        ObjectNode n = line("accepted", job.id());
        n.put("model", job.model());
        n.put("at", job.accepted().toEpochMilli());
        ObjectNode q = n.putObject("request");
        q.put("prompt", r.prompt());
        q.put("negative_prompt", r.negativePrompt());
        q.put("width", r.width());
        q.put("height", r.height());
        q.put("steps", r.steps());
        q.put("guidance", r.guidance());
        q.put("seed", r.seed());
        q.put("count", r.count());
        append(n);
    }

    /** Records a finished job and its images; returns once it is on disk. */
    public void done(String id, List<Job.Image> images) {
        ObjectNode n = line("done", id);
        ArrayNode a = n.putArray("images");
        for (Job.Image i : images)
            a.addObject().put("name", i.name()).put("seed", i.seed()).put("width", i.width()).put("height", i.height());
        append(n);
    }

    /** Records a job that failed or was cancelled. */
    public void ended(String id, Job.State state, String error) {
        if (state != Job.State.FAILED && state != Job.State.CANCELLED) throw new IllegalArgumentException(state.name());
        ObjectNode n = line(state.json(), id);
        n.put("error", error);
        append(n);
    }

    private static ObjectNode line(String type, String id) {
        ObjectNode n = JSON.createObjectNode();
        n.put("t", type);
        n.put("id", id);
        return n;
    }

    private synchronized void append(ObjectNode n) {
        try {
            channel.write(ByteBuffer.wrap((n + "\n").getBytes(StandardCharsets.UTF_8)));
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write job journal " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        channel.close();
    }
}
