package dev.zimage4j.server;

import dev.zimage4j.engine.Engine;
import dev.zimage4j.engine.Job;
import dev.zimage4j.pipeline.GenerationRequest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code GET /v1/images}: the newest images of the output directory, each with the parameters that made
 * it (from its job, while the engine still remembers the job), so the web page's gallery can show them
 * and reuse them. Image files are named {@code JOBID-INDEX.png} by the engine.
 */
final class RecentImages {

    static final int DEFAULT_LIMIT = 48;
    static final int MAX_LIMIT = 500;

    private RecentImages() {
    }

    /** {@code {"object": "list", "data": [...]}}, newest first, at most {@code limit} entries. */
    static Map<String, Object> list(Engine engine, int limit) throws IOException {
        if (limit < 1 || limit > MAX_LIMIT) throw HttpError.badRequest("limit", "limit must be 1.." + MAX_LIMIT + ", got " + limit);
        record File(String name, FileTime modified) {
        }
        List<File> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(engine.store().dir())) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String name = p.getFileName().toString();
                if (engine.store().find(name).isEmpty()) continue;   // temp files, the journal, anything not an image
                try {
                    files.add(new File(name, Files.getLastModifiedTime(p)));
                } catch (IOException e) {
                    // deleted meanwhile: not listed
                }
            }
        }
        files.sort(Comparator.comparing(File::modified).reversed().thenComparing(File::name));
        List<Map<String, Object>> data = new ArrayList<>();
        for (File f : files.subList(0, Math.min(limit, files.size()))) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", f.name());
            m.put("url", "/v1/images/" + f.name());
            m.put("created", f.modified().toInstant().toString());
            int dash = f.name().lastIndexOf('-');
            if (dash > 0) engine.job(f.name().substring(0, dash)).ifPresent(job -> describe(job, f.name(), m));
            data.add(m);
        }
        return Map.of("object", "list", "data", data);
    }

    /** Adds the job's parameters, with this image's own seed and size. */
    private static void describe(Job job, String name, Map<String, Object> m) {
        GenerationRequest r = job.request();
        m.put("job", job.id());
        m.put("model", job.model());
        m.put("prompt", r.prompt());
        m.put("negative_prompt", r.negativePrompt());
        m.put("width", r.width());
        m.put("height", r.height());
        m.put("steps", r.steps());
        m.put("guidance", r.guidance());
        m.put("seed", r.seed());
        for (Job.Image i : job.images()) {
            if (i.name().equals(name)) {
                m.put("seed", i.seed());
                m.put("width", i.width());
                m.put("height", i.height());
            }
        }
    }
}
