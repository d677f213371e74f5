package dev.zimage4j.engine;

import dev.zimage4j.pipeline.GenerationRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class JournalTest {
    @TempDir
    Path dir;

    @Test
    void replaysFinishedAndUnfinishedJobsAndSkipsATornLine() throws Exception {
        Path file = dir.resolve("journal.jsonl");
        GenerationRequest r = new GenerationRequest("a \"quoted\" prompt\nwith a newline", "neg", 64, 48, 3, 1.5, -7, 2, null, 0.6);
        try (Journal j = Journal.open(file)) {
            j.accepted(new Job("j1", "m", r, Instant.ofEpochMilli(1000)));
            j.accepted(new Job("j2", "m", r, Instant.ofEpochMilli(2000)));
            j.accepted(new Job("j3", "m", r, Instant.ofEpochMilli(3000)));
            j.done("j1", List.of(new Job.Image("j1-0.png", -7, 64, 48), new Job.Image("j1-1.png", -6, 64, 48)));
            j.ended("j3", Job.State.CANCELLED, "cancelled by DELETE");
        }
        Files.writeString(file, "{\"t\":\"done\",\"id\":\"j2\",\"ima", StandardOpenOption.APPEND);   // crash mid-write
        try (Journal j = Journal.open(file)) {
            List<Journal.Entry> e = j.replayed();
            assertEquals(List.of("j1", "j2", "j3"), e.stream().map(Journal.Entry::id).toList());
            assertEquals(Job.State.DONE, e.get(0).state());
            assertEquals("j1-1.png", e.get(0).images().get(1).name());
            assertEquals(Job.State.QUEUED, e.get(1).state());              // the torn "done" does not count
            assertEquals(r.prompt(), e.get(1).request().prompt());
            assertEquals(-7, e.get(1).request().seed());
            assertEquals(1.5, e.get(1).request().guidance());
            assertEquals(Job.State.CANCELLED, e.get(2).state());
            assertEquals("cancelled by DELETE", e.get(2).error());
        }
    }

    @Test
    void compactionKeepsUnfinishedJobsAndTheRecentFinishedOnes() throws Exception {
        Path file = dir.resolve("journal.jsonl");
        GenerationRequest r = GenerationRequest.of("p", 1).withSize(64, 64);
        try (Journal j = Journal.open(file)) {
            j.accepted(new Job("pending", "m", r, Instant.now()));
            for (int i = 0; i < 15; i++) {
                j.accepted(new Job("f" + i, "m", r, Instant.now()));
                j.done("f" + i, List.of());
            }
        }
        try (Journal j = Journal.open(file, 10)) {
            assertEquals(11, j.replayed().size());
            assertEquals("pending", j.replayed().getFirst().id());
            assertEquals("f5", j.replayed().get(1).id());
        }
        assertEquals(2 * 10 + 1, Files.readAllLines(file).size());
    }
}
