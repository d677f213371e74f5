package dev.zimage4j.engine;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.kernels.cuda.CudaBackend;
import dev.zimage4j.kernels.cuda.CudaUnavailableException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Config key {@code devices}: parsing, its default from {@code backend}, errors naming the entry, and opening devices. */
class DevicesConfigTest {
    @TempDir
    Path dir;

    private List<Device> devices(String json) throws Exception {
        return EngineConfig.load(Files.writeString(dir.resolve("c.json"), "{\"devices\": " + json + "}"), null).deviceList();
    }

    private String error(String json) {
        return assertThrows(ConfigException.class, () -> devices(json)).getMessage();
    }

    @Test
    void parsesEveryForm() throws Exception {
        assertEquals(List.of(Device.cuda(0), Device.cuda(1)), devices("[\"cuda:0\", \"cuda:1\"]"));
        assertEquals(List.of(Device.cpu()), devices("\"cpu\""));
        assertEquals(List.of(Device.AUTO), devices("\"auto\""));
        assertEquals(List.of(Device.cuda(0)), devices("\"CUDA\""));
        List<Device> two = devices("\"cpu:2\"");
        assertEquals(List.of("cpu:0", "cpu:1"), two.stream().map(Device::name).toList());
        assertEquals(8, two.getFirst().cpuThreads(16), "two CPU workers share the cores");
        assertEquals(1, two.getFirst().cpuThreads(1));
    }

    @Test
    void defaultFollowsBackend() {
        ObjectNode o = JsonMapper.builder().build().createObjectNode();
        assertEquals(List.of(Device.AUTO), EngineConfig.load(null, o).deviceList());
        assertEquals(List.of(Device.cpu()), EngineConfig.load(null, o.put("backend", "cpu")).deviceList());
        assertEquals(List.of(Device.cuda(0)), EngineConfig.load(null, o.put("backend", "cuda")).deviceList());
        assertEquals(List.of(Device.cuda(1)), EngineConfig.load(null, o.put("devices", "cuda:1")).deviceList(), "devices wins over backend");
    }

    @Test
    void invalidListsNameTheEntry() {
        assertTrue(error("[\"gpu:0\"]").contains("unknown device 'gpu:0'"));
        assertTrue(error("[\"cuda:0\", \"cuda:0\"]").contains("'cuda:0' is listed twice"));
        assertTrue(error("[\"cuda\", \"cuda:0\"]").contains("'cuda:0' is listed twice"));
        assertTrue(error("[\"auto\", \"cpu\"]").contains("\"auto\" must be the only entry"));
        assertTrue(error("[\"cpu\", \"cuda:0\"]").contains("mixes CPU and CUDA"));
        assertTrue(error("[\"cpu\", \"cpu:2\"]").contains("lists the CPU again"));
        assertTrue(error("\"cpu:0\"").contains("1..256 CPU workers"));
        assertTrue(error("[]").contains("at least one device"));
        assertTrue(error("[\"cuda:-1\"]").contains("unknown device 'cuda:-1'"));
        assertTrue(error("[null]").contains("unknown device 'null'"));
        String wrongType = error("3");
        assertTrue(wrongType.contains("devices"), wrongType);
    }

    @Test
    void aCudaDeviceThatCannotBeOpenedFailsStartUpNamingIt() {
        // no machine here has 100 GPUs: with or without CUDA this device cannot be opened
        try (PipelineGeneratorFactory f = new PipelineGeneratorFactory("cpu")) {
            ConfigException e = assertThrows(ConfigException.class, () -> f.open(List.of(Device.cuda(99))));
            assertTrue(e.getMessage().startsWith("device cuda:99 (config key devices) cannot be opened: "), e.getMessage());
        }
    }

    @Test
    void autoOpensEveryVisibleGpuElseOneCpuWorker() {
        boolean cuda;
        try {
            CudaBackend.create(0).close();
            cuda = true;
        } catch (CudaUnavailableException e) {
            cuda = false;
        }
        try (PipelineGeneratorFactory f = new PipelineGeneratorFactory("cpu")) {
            List<Device> opened = f.open(List.of(Device.AUTO));
            if (cuda) {
                assertTrue(!opened.isEmpty() && opened.stream().allMatch(d -> d.kind() == Device.Kind.CUDA), opened.toString());
                assertEquals(Device.cuda(0), opened.getFirst());
            } else {
                assertEquals(List.of(Device.cpu()), opened);
            }
        }
    }

    @Test
    void twoCpuWorkersGetTheirOwnBackends() {
        try (PipelineGeneratorFactory f = new PipelineGeneratorFactory("cpu")) {
            List<Device> d = Device.cpus(2);
            assertEquals(d, f.open(d));
        }
    }
}
