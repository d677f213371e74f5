package dev.zimage4j.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * FFM bindings to the CUDA driver API in {@code libcuda.so.1} (and nothing else: no runtime, NVRTC or
 * cuBLAS). Each handle binds the exact exported symbol of the CUDA 13 ABI (the {@code _v2} names where
 * the header renames; see docs/cuda-notes §1). Every call goes through {@link #check}, which turns a
 * non-zero {@code CUresult} into a {@link CudaException} named by {@code cuGetErrorName}.
 *
 * <p>If the library is absent the class still loads; {@link #unavailableReason()} says why and every
 * binding is null, so callers test {@link #available()} first.
 */
public final class CudaDriver {

    private CudaDriver() {
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Optional<SymbolLookup> LIB;
    private static final String UNAVAILABLE;

    static {
        SymbolLookup lib = null;
        String why = null;
        try {
            lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            why = "libcuda.so.1 (the NVIDIA driver library) could not be loaded: " + e.getMessage();
        }
        LIB = Optional.ofNullable(lib);
        UNAVAILABLE = why;
    }

    /** True if {@code libcuda.so.1} was found. */
    public static boolean available() {
        return LIB.isPresent();
    }

    /** Why the driver library is unavailable, or null. */
    public static String unavailableReason() {
        return UNAVAILABLE;
    }

    private static MethodHandle bind(String symbol, MemoryLayout... args) {
        return bind(symbol, false, args);
    }

    private static MethodHandle bind(String symbol, boolean critical, MemoryLayout... args) {
        if (LIB.isEmpty()) return null;
        MemorySegment addr = LIB.get().find(symbol)
                .orElseThrow(() -> new CudaUnavailableException("libcuda.so.1 lacks " + symbol + " (driver too old?)", null));
        FunctionDescriptor fd = FunctionDescriptor.of(JAVA_INT, args);
        return critical ? LINKER.downcallHandle(addr, fd, Linker.Option.critical(false)) : LINKER.downcallHandle(addr, fd);
    }

    static final MethodHandle cuInit = bind("cuInit", JAVA_INT);
    static final MethodHandle cuDriverGetVersion = bind("cuDriverGetVersion", ADDRESS);
    static final MethodHandle cuDeviceGetCount = bind("cuDeviceGetCount", ADDRESS);
    static final MethodHandle cuDeviceGet = bind("cuDeviceGet", ADDRESS, JAVA_INT);
    static final MethodHandle cuDeviceGetName = bind("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle cuDeviceGetAttribute = bind("cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle cuDeviceTotalMem = bind("cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
    static final MethodHandle cuDevicePrimaryCtxRetain = bind("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
    static final MethodHandle cuDevicePrimaryCtxRelease = bind("cuDevicePrimaryCtxRelease_v2", JAVA_INT);
    static final MethodHandle cuCtxSetCurrent = bind("cuCtxSetCurrent", ADDRESS);
    static final MethodHandle cuCtxSynchronize = bind("cuCtxSynchronize");
    static final MethodHandle cuMemGetInfo = bind("cuMemGetInfo_v2", ADDRESS, ADDRESS);
    static final MethodHandle cuMemAlloc = bind("cuMemAlloc_v2", ADDRESS, JAVA_LONG);
    static final MethodHandle cuMemFree = bind("cuMemFree_v2", JAVA_LONG);
    static final MethodHandle cuMemAllocHost = bind("cuMemAllocHost_v2", ADDRESS, JAVA_LONG);
    static final MethodHandle cuMemFreeHost = bind("cuMemFreeHost", ADDRESS);
    static final MethodHandle cuMemcpyHtoD = bind("cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
    static final MethodHandle cuMemcpyDtoH = bind("cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
    static final MethodHandle cuMemcpyHtoDAsync = bind("cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
    static final MethodHandle cuMemcpyDtoHAsync = bind("cuMemcpyDtoHAsync_v2", ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
    static final MethodHandle cuMemcpyDtoDAsync = bind("cuMemcpyDtoDAsync_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
    static final MethodHandle cuMemsetD32Async = bind("cuMemsetD32Async", JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS);
    static final MethodHandle cuMemsetD8Async = bind("cuMemsetD8Async", JAVA_LONG, JAVA_BYTE, JAVA_LONG, ADDRESS);
    static final MethodHandle cuModuleLoadDataEx = bind("cuModuleLoadDataEx", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle cuModuleGetFunction = bind("cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle cuModuleUnload = bind("cuModuleUnload", ADDRESS);
    static final MethodHandle cuFuncGetAttribute = bind("cuFuncGetAttribute", ADDRESS, JAVA_INT, ADDRESS);
    static final MethodHandle cuFuncSetAttribute = bind("cuFuncSetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle cuLaunchKernel = bind("cuLaunchKernel", true, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle cuStreamCreate = bind("cuStreamCreate", ADDRESS, JAVA_INT);
    static final MethodHandle cuStreamDestroy = bind("cuStreamDestroy_v2", ADDRESS);
    static final MethodHandle cuStreamSynchronize = bind("cuStreamSynchronize", ADDRESS);
    static final MethodHandle cuEventCreate = bind("cuEventCreate", ADDRESS, JAVA_INT);
    static final MethodHandle cuEventRecord = bind("cuEventRecord", true, ADDRESS, ADDRESS);
    static final MethodHandle cuEventSynchronize = bind("cuEventSynchronize", ADDRESS);
    static final MethodHandle cuEventElapsedTime = bind("cuEventElapsedTime_v2", ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle cuEventDestroy = bind("cuEventDestroy_v2", ADDRESS);
    static final MethodHandle cuStreamBeginCapture = bind("cuStreamBeginCapture_v2", ADDRESS, JAVA_INT);
    static final MethodHandle cuStreamEndCapture = bind("cuStreamEndCapture", ADDRESS, ADDRESS);
    static final MethodHandle cuGraphInstantiateWithFlags = bind("cuGraphInstantiateWithFlags", ADDRESS, ADDRESS, JAVA_LONG);
    static final MethodHandle cuGraphLaunch = bind("cuGraphLaunch", true, ADDRESS, ADDRESS);
    static final MethodHandle cuGraphUpload = bind("cuGraphUpload", ADDRESS, ADDRESS);
    static final MethodHandle cuGraphExecDestroy = bind("cuGraphExecDestroy", ADDRESS);
    static final MethodHandle cuGraphDestroy = bind("cuGraphDestroy", ADDRESS);
    static final MethodHandle cuGraphGetNodes = bind("cuGraphGetNodes", ADDRESS, ADDRESS, ADDRESS);
    /** {@code (CUtensorMap*, dtype, rank, void* gaddr, const u64* dims, const u64* strides, const u32* box, const u32* elemStrides, interleave, swizzle, l2promo, oobFill)}. */
    static final MethodHandle cuTensorMapEncodeTiled = bind("cuTensorMapEncodeTiled", ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    static final MethodHandle cuGetErrorName = bind("cuGetErrorName", JAVA_INT, ADDRESS);
    static final MethodHandle cuGetErrorString = bind("cuGetErrorString", JAVA_INT, ADDRESS);

    /** Throws {@link CudaException} if {@code result} is not CUDA_SUCCESS. */
    static void check(int result, String call) {
        if (result != 0) throw new CudaException(call, result, errorName(result), errorString(result));
    }

    /** Throws {@link CudaException} with extra text (e.g. a JIT log) if {@code result} is not CUDA_SUCCESS. */
    static void check(int result, String call, String detail) {
        if (result != 0) throw new CudaException(call, result, errorName(result), detail);
    }

    /** The {@code CUresult} name, e.g. {@code CUDA_ERROR_ILLEGAL_ADDRESS}. */
    public static String errorName(int result) {
        return lookupString(cuGetErrorName, result, "CUresult " + result);
    }

    private static String errorString(int result) {
        return lookupString(cuGetErrorString, result, null);
    }

    private static String lookupString(MethodHandle h, int result, String fallback) {
        if (h == null) return fallback;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int r = (int) h.invokeExact(result, p);
            MemorySegment s = p.get(ADDRESS, 0);
            if (r != 0 || s.address() == 0) return fallback;
            return s.reinterpret(512).getString(0);
        } catch (Throwable t) {
            return fallback;
        }
    }

    /** Rethrows a {@code Throwable} from {@code invokeExact} as unchecked. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
