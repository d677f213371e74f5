package dev.zimage4j.bench;

import dev.zimage4j.cli.MakeRandomModelCommand;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The model directories of the "3 models alternating" scenario: {@code zimage make-random-model --preset tiny
 * --seed N} for N = 1…, kept under {@code bench/target/bench-models/} and reused by later runs.
 */
final class ModelSet {
    private ModelSet() {
    }

    static List<Path> ensure(Path root, int count, PrintStream out) throws Exception {
        Path dir = root.resolve("bench/target/bench-models");
        Files.createDirectories(dir);
        List<Path> models = new ArrayList<>();
        for (int seed = 1; seed <= count; seed++) {
            Path m = dir.resolve("tiny-seed" + seed);
            if (!Files.isRegularFile(m.resolve(".complete"))) {
                BenchCommand.deleteTree(m);
                Path tmp = Files.createTempDirectory(dir, ".tiny-seed" + seed + "-");
                out.println("writing " + m + " (zimage make-random-model --preset tiny --seed " + seed + ")");
                int rc = new MakeRandomModelCommand().run(List.of("--preset", "tiny", "--out", tmp.toString(), "--seed", Integer.toString(seed)),
                        new PrintStream(PrintStream.nullOutputStream()), System.err);
                if (rc != 0) throw new IOException("make-random-model --seed " + seed + " failed with status " + rc);
                Files.writeString(tmp.resolve(".complete"), "tiny preset, seed " + seed + "\n");
                Files.move(tmp, m, StandardCopyOption.ATOMIC_MOVE);
            }
            models.add(m);
        }
        return models;
    }
}
