package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** On a machine without the NVIDIA driver (CI, the build machine): clear failure for "cuda", CPU for "auto". */
class CudaUnavailableTest {

    @Test
    void cudaFailsClearlyAndAutoFallsBackToCpu() {
        Assumptions.assumeFalse(CudaDriver.available(), "libcuda.so.1 is present: this test is for machines without a GPU driver");
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaBackend.create(0));
        assertTrue(e.getMessage().contains("libcuda.so.1"), e.getMessage());
        CudaUnavailableException viaFactory = assertThrows(CudaUnavailableException.class, () -> Backends.create("cuda"));
        assertTrue(viaFactory.getMessage().contains("libcuda.so.1"), viaFactory.getMessage());
        try (Backend b = Backends.create("auto")) {
            assertInstanceOf(CpuBackend.class, b);
        }
    }
}
