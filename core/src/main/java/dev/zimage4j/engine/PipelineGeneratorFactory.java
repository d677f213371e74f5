package dev.zimage4j.engine;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.kernels.cpu.CpuBackend;
import dev.zimage4j.kernels.cuda.CudaBackend;
import dev.zimage4j.kernels.cuda.CudaUnavailableException;
import dev.zimage4j.pipeline.ImageGenerator;
import dev.zimage4j.pipeline.ModelFiles;
import dev.zimage4j.pipeline.PipelineOptions;
import dev.zimage4j.pipeline.ZImagePipeline;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads the Z-Image pipeline from a model directory (the production factory). Each device has its own
 * backend (a CUDA context on that GPU, or a CPU backend over its share of the cores), opened by
 * {@link #open}; a model loaded for a device holds its weights on that device's backend.
 */
final class PipelineGeneratorFactory implements GeneratorFactory, AutoCloseable {
    private final String backendName;
    private final Map<String, Backend> backends = new LinkedHashMap<>();

    /** @param backendName "cpu", "cuda" or "auto" ({@link Backends#create}): the backend of {@link #load(String, Path, ComponentReporter)} */
    PipelineGeneratorFactory(String backendName) {
        this.backendName = backendName;
    }

    @Override
    public synchronized List<Device> open(List<Device> configured) {
        List<Device> out = new ArrayList<>();
        if (configured.equals(List.of(Device.AUTO))) {
            for (int i = 0; ; i++) {
                try {
                    backends.put("cuda:" + i, CudaBackend.create(i));
                    out.add(Device.cuda(i));
                } catch (CudaUnavailableException e) {
                    if (i == 0) {
                        Log.info("devices auto: no usable GPU (" + e.getMessage() + "); one CPU worker");
                        out.add(Device.cpu());
                        backends.put("cpu", cpuBackend(Device.cpu()));
                    } else if (!e.getMessage().contains("requested but the driver reports")) {
                        Log.info("devices auto: cuda:" + i + " not used: " + e.getMessage());
                    }
                    break;
                }
            }
            return List.copyOf(out);
        }
        for (Device d : configured) {
            try {
                backends.computeIfAbsent(d.name(), n -> d.kind() == Device.Kind.CUDA ? CudaBackend.create(d.ordinal()) : cpuBackend(d));
            } catch (CudaUnavailableException e) {
                close();
                throw new ConfigException("device " + d.name() + " (config key devices) cannot be opened: " + e.getMessage()
                        + "; list only usable GPUs, or use \"auto\" / \"cpu\"");
            }
        }
        return configured;
    }

    private static Backend cpuBackend(Device d) {
        if (d.cpuShare() == 1) return Backends.cpu();
        return new CpuBackend(d.cpuThreads(Integer.getInteger("zimage.cpu.threads", Runtime.getRuntime().availableProcessors())));
    }

    @Override
    public synchronized ImageGenerator load(String modelId, Path dir, ComponentReporter reporter) {
        Backend b = backends.computeIfAbsent("default", n -> Backends.create(backendName));
        return load(dir, b, reporter);
    }

    @Override
    public ImageGenerator load(String modelId, Path dir, Device device, ComponentReporter reporter) {
        Backend b;
        synchronized (this) {
            b = backends.get(device.name());
        }
        if (b == null) throw new IllegalStateException("device " + device.name() + " was not opened");
        // one model load per device at a time is the worker's own order; two devices load in parallel
        return load(dir, b, reporter);
    }

    private static ImageGenerator load(Path dir, Backend backend, ComponentReporter reporter) {
        ZImagePipeline p = ZImagePipeline.load(ModelFiles.resolve(List.of(dir)), backend, PipelineOptions.DEFAULT);
        Map<String, Long> bytes = p.componentBytes();
        p.loadMillis().forEach((component, ms) -> reporter.loaded(component, ms, bytes.getOrDefault(component, 0L)));
        return p;
    }

    @Override
    public synchronized void close() {
        for (Backend b : backends.values()) b.close();
        backends.clear();
    }
}
