package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.zimage4j.engine.EngineConfig;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where a running local server says where it is: {@code CACHE/daemon.json} with its pid, base URL
 * and bearer token (owner-only permissions). Written by {@code zimage serve} (the supervisor when
 * supervised) and removed when it exits; read by {@link LocalClient} and {@code zimage daemon}.
 *
 * @param pid   the process to signal for stop (the supervisor when supervised)
 * @param url   base URL, e.g. http://127.0.0.1:8777
 * @param token bearer token, or null
 */
public record DaemonFile(long pid, URI url, String token) {
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    /** The file's location. */
    public static Path path() {
        return EngineConfig.home().resolve("daemon.json");
    }

    /** The recorded server, if the file exists and its process is alive. */
    public static Optional<DaemonFile> read() {
        try {
            Path p = path();
            if (!Files.exists(p)) return Optional.empty();
            JsonNode n = JSON.readTree(p.toFile());
            DaemonFile d = new DaemonFile(n.get("pid").asLong(), URI.create(n.get("url").asText()),
                    n.hasNonNull("token") ? n.get("token").asText() : null);
            return ProcessHandle.of(d.pid).map(ProcessHandle::isAlive).orElse(false) ? Optional.of(d) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Writes this file atomically, unless another live server already holds it; returns whether it did. */
    public boolean register() throws IOException {
        Optional<DaemonFile> other = read();
        if (other.isPresent() && other.get().pid != pid) return false;
        Path p = path();
        Files.createDirectories(p.getParent());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", pid);
        m.put("url", url.toString());
        m.put("token", token);
        Path tmp = p.resolveSibling("daemon.json." + pid + ".tmp");
        Files.write(tmp, JSON.writeValueAsBytes(m));
        try {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: the token is only as private as the directory
        }
        Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return true;
    }

    /** Removes the file if it still names this process. */
    public void unregister() {
        try {
            Path p = path();
            if (!Files.exists(p)) return;
            JsonNode n = JSON.readTree(p.toFile());
            if (n.get("pid").asLong() == pid) Files.deleteIfExists(p);
        } catch (IOException | RuntimeException e) {
            // best effort at exit
        }
    }
}
