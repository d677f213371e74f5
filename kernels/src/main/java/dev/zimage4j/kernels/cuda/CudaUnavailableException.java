package dev.zimage4j.kernels.cuda;

/** No usable CUDA driver or device: {@code libcuda.so.1} is missing, {@code cuInit} failed, or there is no GPU. */
public class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
