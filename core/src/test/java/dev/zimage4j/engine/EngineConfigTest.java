package dev.zimage4j.engine;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineConfigTest {
    @TempDir
    Path dir;

    private Path file(String json) throws Exception {
        return Files.writeString(dir.resolve("c.json"), json);
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        EngineConfig c = EngineConfig.defaults();
        assertEquals("127.0.0.1", c.host());
        assertEquals(8777, c.port());
        assertNull(c.authToken());
        assertEquals(1 << 20, c.maxBodyBytes());
        assertEquals(2, c.maxCachedModels());
        assertTrue(c.keepModelInMemory());
        assertTrue(c.unloadOnExit());
        assertEquals(32, c.queueCapacity());
        assertArrayEquals(new int[]{1024, 1024}, c.defaultWidthHeight());
        assertArrayEquals(new int[]{1024, 1024}, c.prewarmResolutions().getFirst());
    }

    @Test
    void fileKeysAndFlagOverrides() throws Exception {
        ObjectNode flags = JsonMapper.builder().build().createObjectNode().put("port", 9000);
        EngineConfig c = EngineConfig.load(file("""
                {"port": 1234, "max_cached_models": 3, "keep_model_in_memory": false, "models": {"a": "/m/a"},
                 "prewarm_on_startup": {"models": ["a"], "resolutions": ["512x768"]}}"""), flags);
        assertEquals(9000, c.port());
        assertEquals(3, c.maxCachedModels());
        assertFalse(c.keepModelInMemory());
        assertEquals(Map.of("a", "/m/a"), c.models());
        assertEquals(List.of("a"), c.prewarmOnStartup().models());
        assertArrayEquals(new int[]{512, 768}, c.prewarmResolutions().getFirst());
        assertEquals(3, c.prewarmOnStartup().maxRuns());
        assertEquals(0.10, c.prewarmOnStartup().settleTolerance());
    }

    @Test
    void prewarmRunLimitAndToleranceAreChecked() throws Exception {
        EngineConfig c = EngineConfig.load(file("{\"prewarm_on_startup\": {\"max_runs\": 5, \"settle_tolerance\": 0.05}}"), null);
        assertEquals(5, c.prewarmOnStartup().maxRuns());
        assertEquals(0.05, c.prewarmOnStartup().settleTolerance());
        for (String bad : new String[]{"{\"max_runs\": 0}", "{\"max_runs\": 21}", "{\"settle_tolerance\": 0}", "{\"settle_tolerance\": 1.5}"}) {
            var e = assertThrows(ConfigException.class, () -> EngineConfig.load(file("{\"prewarm_on_startup\": " + bad + "}"), null));
            assertTrue(e.getMessage().contains("prewarm_on_startup."), e.getMessage());
        }
    }

    @Test
    void aPrewarmFlagKeepsTheFilesOtherPrewarmSettings() throws Exception {
        ObjectNode flags = JsonMapper.builder().build().createObjectNode();
        flags.putObject("prewarm_on_startup").putArray("resolutions").add("64x64"); // what --prewarm 64x64 sets
        EngineConfig c = EngineConfig.load(file("""
                {"models": {"a": "/m/a", "b": "/m/b"},
                 "prewarm_on_startup": {"models": ["b"], "resolutions": ["512x512"], "max_runs": 6, "settle_tolerance": 0.2}}"""), flags);
        assertEquals(6, c.prewarmOnStartup().maxRuns());
        assertEquals(0.2, c.prewarmOnStartup().settleTolerance());
        assertEquals(java.util.List.of("b"), c.prewarmOnStartup().models());
        assertEquals(java.util.List.of("64x64"), c.prewarmOnStartup().resolutions());
    }

    @Test
    void unknownKeysAndWrongTypesNameTheKey() throws Exception {
        var unknown = assertThrows(ConfigException.class, () -> EngineConfig.load(file("{\"max_cache_models\": 3}"), null));
        assertTrue(unknown.getMessage().contains("unknown config key 'max_cache_models'"), unknown.getMessage());
        assertTrue(unknown.getMessage().contains("max_cached_models"), "lists the known keys: " + unknown.getMessage());
        var nested = assertThrows(ConfigException.class, () -> EngineConfig.load(file("{\"prewarm_on_startup\": {\"sizes\": []}}"), null));
        assertTrue(nested.getMessage().contains("'prewarm_on_startup.sizes'"), nested.getMessage());
        var type = assertThrows(ConfigException.class, () -> EngineConfig.load(file("{\"port\": \"eighty\"}"), null));
        assertTrue(type.getMessage().contains("'port'"), type.getMessage());
        var res = assertThrows(ConfigException.class, () -> EngineConfig.load(file("{\"prewarm_on_startup\": {\"resolutions\": [\"500x500\"]}}"), null));
        assertTrue(res.getMessage().contains("prewarm_on_startup.resolutions"), res.getMessage());
        var json = assertThrows(ConfigException.class, () -> EngineConfig.load(file("{\"port\": "), null));
        assertTrue(json.getMessage().contains("not valid JSON"), json.getMessage());
        assertThrows(ConfigException.class, () -> EngineConfig.load(file("{\"port\": 70000}"), null));
    }

    @Test
    void nonLoopbackBindNeedsAToken() throws Exception {
        var e = assertThrows(ConfigException.class, () -> EngineConfig.load(file("{\"host\": \"0.0.0.0\"}"), null));
        assertTrue(e.getMessage().contains("auth_token"), e.getMessage());
        assertEquals("0.0.0.0", EngineConfig.load(file("{\"host\": \"0.0.0.0\", \"auth_token\": \"t\"}"), null).host());
        assertEquals("localhost", EngineConfig.load(file("{\"host\": \"localhost\"}"), null).host());
    }

    @Test
    void modelIdsResolveOnlyInsideTheRoots() throws Exception {
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.createDirectories(root.resolve("m1"));
        Files.createDirectories(dir.resolve("secret"));
        ModelRegistry r = new ModelRegistry(Map.of("named", dir.resolve("secret")), List.of(root));
        assertEquals(root.resolve("m1"), r.resolve("m1"));
        assertEquals(dir.resolve("secret"), r.resolve("named"));
        assertEquals(List.of("named", "m1"), r.ids());
        for (String bad : new String[]{"../secret", "..", ".", "m1/../../secret", "/etc", "../../etc/passwd", "", "nope"})
            assertThrows(UnknownModelException.class, () -> r.resolve(bad), bad);
        assertThrows(ConfigException.class, () -> new ModelRegistry(Map.of("../x", dir), List.of()));
    }
}
