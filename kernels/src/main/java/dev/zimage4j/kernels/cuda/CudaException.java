package dev.zimage4j.kernels.cuda;

/** A CUDA driver call failed; carries the {@code CUresult} code and its name (e.g. {@code CUDA_ERROR_INVALID_PTX}). */
public class CudaException extends RuntimeException {
    private final int code;
    private final String resultName;

    public CudaException(String call, int code, String resultName, String detail) {
        super(call + " failed: " + resultName + " (" + code + ")" + (detail == null || detail.isBlank() ? "" : ": " + detail));
        this.code = code;
        this.resultName = resultName;
    }

    /** The raw {@code CUresult}. */
    public int code() {
        return code;
    }

    /** The {@code CUresult} name from {@code cuGetErrorName}. */
    public String resultName() {
        return resultName;
    }

    /** True for the sticky errors (700, 714–719) after which the context is unusable and the process must restart. */
    public boolean sticky() {
        return code == 700 || (code >= 714 && code <= 719);
    }
}
