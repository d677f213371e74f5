package dev.zimage4j.check;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The fixture folders under {@code ${zimage.root}/testdata} (every folder in the README's format, not just tiny-a). */
public final class TestFixtures {
    private TestFixtures() {
    }

    /** The repository root: system property {@code zimage.root} (Surefire sets it), else the working directory. */
    public static Path root() {
        return Path.of(System.getProperty("zimage.root", ".")).toAbsolutePath().normalize();
    }

    /** {@code testdata/} under the root. */
    public static Path testdata() {
        return root().resolve("testdata");
    }

    /** The {@code tiny-a} fixture model ({@code testdata/tiny-a}), for tests about its particular files. */
    public static Path tinyA() {
        return testdata().resolve("tiny-a");
    }

    /** The folders' paths; the suite fails if there are none. */
    public static List<Path> folders() throws IOException {
        Path root = testdata();
        List<Path> out = new ArrayList<>();
        try (var dirs = Files.list(root)) {
            for (Path d : dirs.sorted().toList()) if (Files.isRegularFile(d.resolve("cases.json"))) out.add(d);
        }
        if (out.isEmpty()) throw new IllegalStateException("no fixture folders under " + root);
        return out;
    }

    /** Opens one folder; close it after use. */
    public static Fixtures open(Path dir) {
        return Fixtures.open(dir);
    }
}
