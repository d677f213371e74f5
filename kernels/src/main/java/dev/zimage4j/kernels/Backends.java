package dev.zimage4j.kernels;

import dev.zimage4j.kernels.cpu.CpuBackend;

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

    /**
     * The backend named {@code name}: {@code "cpu"}, {@code "cuda"} (the first GPU) or {@code "auto"} (CUDA when a
     * GPU is usable, else CPU).
     *
     * @throws IllegalArgumentException for an unknown name, or {@code "cuda"} when no CUDA backend is available
     */
    public static Backend create(String name) {
        if (name == null) throw new IllegalArgumentException("backend name is null; use cpu, cuda or auto");
        return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "cpu" -> cpu();
            case "auto" -> cpu();
            case "cuda" -> throw new IllegalArgumentException("backend 'cuda' is not available in this build; use cpu");
            default -> throw new IllegalArgumentException("unknown backend '" + name + "'; use cpu, cuda or auto");
        };
    }
}
