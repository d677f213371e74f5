package dev.zimage4j.pipeline;

import dev.zimage4j.check.SchedulerStage;
import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.sampler.FlowMatchSchedule;
import dev.zimage4j.sampler.Guidance;
import dev.zimage4j.sampler.TorchGenerator;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sampling loop for device-resident backends (latents, schedule and Euler update on the backend, one
 * recorded step per graph) against the host loop, on the CPU backend made to report itself device-resident:
 * same latents up to the rounding of the fused update, every step reported once and in order, without latents.
 */
class DeviceResidentDenoiseTest {

    /** The CPU backend answering {@code deviceResident() == true}; every other call goes to it unchanged. */
    static Backend deviceResident(Backend cpu) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class}, (proxy, m, args) -> {
            if (m.getName().equals("deviceResident")) return true;
            try {
                return m.invoke(cpu, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    @Test
    void deviceLoopMatchesTheHostLoop() throws Exception {
        Path dir = TestFixtures.folders().getFirst();
        int h = 48, w = 32, steps = 4;
        float[] host, device;
        List<Integer> seen = new ArrayList<>();
        try (Backend cpu = Backends.cpu(); ZImagePipeline pipe = ZImagePipeline.load(dir, cpu)) {
            int lh = pipe.latentSide(h), lw = pipe.latentSide(w);
            FlowMatchSchedule s = FlowMatchSchedule.create(SchedulerStage.readConfig(dir), steps, lh * lw / 4);
            float[] noise = new TorchGenerator(5).randn(1, pipe.latentChannels(), lh, lw);
            host = pipe.denoise(noise.clone(), lh, lw, pipe.encodePrompt("a red fox"), null, s, Guidance.OFF, null, null);
            try (Backend resident = deviceResident(cpu); ZImagePipeline pipe2 = ZImagePipeline.load(dir, resident)) {
                device = pipe2.denoise(noise.clone(), lh, lw, pipe2.encodePrompt("a red fox"), null, s, Guidance.OFF,
                        ZImagePipeline.StepListener.progress(seen::add), null);
            }
        }
        assertEquals(List.of(0, 1, 2, 3), seen, "each step reported once, in order");
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < host.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(host[i] - device[i]));
            maxRef = Math.max(maxRef, Math.abs(host[i]));
        }
        assertTrue(maxRef > 0.1, "non-trivial latents");
        assertTrue(maxDiff <= 1e-5 * maxRef, "device loop vs host loop: max |a−b| " + maxDiff + " of max " + maxRef);
    }
}
