package dev.zimage4j.kernels;

import dev.zimage4j.kernels.cpu.CpuBackend;
import dev.zimage4j.kernels.cuda.CudaBackend;
import dev.zimage4j.kernels.cuda.CudaUnavailableException;

import java.util.logging.Logger;

/** Creates compute backends by name. */
public final class Backends {
    private Backends() {
    }

    /**
     * A CPU backend over all cores, or over {@code -Dzimage.cpu.threads=N} threads when that property is set.
     */
    public static Backend cpu() {
        String t = System.getProperty("zimage.cpu.threads");
        if (t == null || t.isBlank()) return new CpuBackend();
        int n;
        try {
            n = Integer.parseInt(t.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("zimage.cpu.threads must be a positive integer, got '" + t + "'");
        }
        if (n < 1) throw new IllegalArgumentException("zimage.cpu.threads must be a positive integer, got " + n);
        return new CpuBackend(n);
    }

    /** The first GPU if one is usable, else the CPU backend, saying why in one log line. */
    public static Backend auto() {
        try {
            return CudaBackend.create(0);
        } catch (CudaUnavailableException e) {
            Logger.getLogger(Backends.class.getName()).info("no usable GPU (" + e.getMessage() + "); using the CPU backend");
            return cpu();
        }
    }

    /**
     * The backend named {@code name}: {@code "cpu"}, {@code "cuda"} (the first GPU) or {@code "auto"} (CUDA when a
     * GPU is usable, else CPU).
     *
     * @throws IllegalArgumentException for an unknown name
     * @throws CudaUnavailableException  for {@code "cuda"} when there is no NVIDIA driver or usable GPU (the message says which)
     */
    public static Backend create(String name) {
        if (name == null) throw new IllegalArgumentException("backend name is null; use cpu, cuda or auto");
        return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "cpu" -> cpu();
            case "auto" -> auto();
            case "cuda" -> CudaBackend.create(0);
            default -> throw new IllegalArgumentException("unknown backend '" + name + "'; use cpu, cuda or auto");
        };
    }
}
