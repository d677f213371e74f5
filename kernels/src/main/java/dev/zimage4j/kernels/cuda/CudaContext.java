package dev.zimage4j.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static dev.zimage4j.kernels.cuda.CudaDriver.check;
import static dev.zimage4j.kernels.cuda.CudaDriver.rethrow;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One GPU's primary context and the single non-blocking stream every op is enqueued on, with the
 * driver calls the backend needs: memory, copies, module loading (PTX → JIT with logs), launches,
 * events and stream capture into graphs.
 *
 * <p>The CUDA "current context" belongs to the OS thread, so every public entry of the backend calls
 * {@link #makeCurrent()} first; do not drive one context from virtual threads.
 */
public final class CudaContext implements AutoCloseable {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(CudaContext.class.getName());

    /** CUjit_option ids (cuda.h). */
    /** Device attribute ids. */
    static final int ATTR_SM_COUNT = 16, ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76, ATTR_SMEM_OPTIN = 97;

    private final int device;
    private final MemorySegment ctx;
    private final MemorySegment stream;
    private final String deviceName;
    private final int ccMajor, ccMinor, smCount, driverVersion;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment scratch = arena.allocate(64, 16);
    /** The context this OS thread last made current (one per thread, whichever device: a thread may drive several). */
    private static final ThreadLocal<CudaContext> CURRENT = new ThreadLocal<>();
    private boolean closed;

    private CudaContext(int ordinal) {
        try {
            check((int) CudaDriver.cuInit.invokeExact(0), "cuInit");
            MemorySegment out = scratch;
            check((int) CudaDriver.cuDriverGetVersion.invokeExact(out), "cuDriverGetVersion");
            driverVersion = out.get(JAVA_INT, 0);
            check((int) CudaDriver.cuDeviceGetCount.invokeExact(out), "cuDeviceGetCount");
            int count = out.get(JAVA_INT, 0);
            if (ordinal >= count)
                throw new CudaUnavailableException("CUDA device " + ordinal + " requested but the driver reports " + count + " device(s)", null);
            check((int) CudaDriver.cuDeviceGet.invokeExact(out, ordinal), "cuDeviceGet");
            device = out.get(JAVA_INT, 0);
            MemorySegment name = arena.allocate(256);
            check((int) CudaDriver.cuDeviceGetName.invokeExact(name, 256, device), "cuDeviceGetName");
            deviceName = name.getString(0);
            ccMajor = attribute(ATTR_CC_MAJOR);
            ccMinor = attribute(ATTR_CC_MINOR);
            smCount = attribute(ATTR_SM_COUNT);
            MemorySegment pctx = arena.allocate(ADDRESS);
            check((int) CudaDriver.cuDevicePrimaryCtxRetain.invokeExact(pctx, device), "cuDevicePrimaryCtxRetain");
            ctx = pctx.get(ADDRESS, 0);
            makeCurrent();
            MemorySegment ps = arena.allocate(ADDRESS);
            check((int) CudaDriver.cuStreamCreate.invokeExact(ps, 1 /* NON_BLOCKING */), "cuStreamCreate");
            stream = ps.get(ADDRESS, 0);
        } catch (CudaException e) {
            throw new CudaUnavailableException("CUDA is not usable: " + e.getMessage(), e);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Opens device {@code ordinal}'s primary context.
     *
     * @throws CudaUnavailableException if the driver library is missing, {@code cuInit} fails, or there is no such device
     */
    public static CudaContext open(int ordinal) {
        if (!CudaDriver.available()) throw new CudaUnavailableException(CudaDriver.unavailableReason(), null);
        return new CudaContext(ordinal);
    }

    public String deviceName() {
        return deviceName;
    }

    public int computeCapability() {
        return ccMajor * 10 + ccMinor;
    }

    public int smCount() {
        return smCount;
    }

    public int driverVersion() {
        return driverVersion;
    }

    /** Binds this context to the calling OS thread (once per thread). */
    public void makeCurrent() {
        if (closed) throw new IllegalStateException("CUDA context of " + deviceName + " is closed");
        if (CURRENT.get() == this) return;
        try {
            check((int) CudaDriver.cuCtxSetCurrent.invokeExact(ctx), "cuCtxSetCurrent");
        } catch (Throwable t) {
            throw rethrow(t);
        }
        CURRENT.set(this);
    }

    /** A device attribute ({@code CUdevice_attribute}). */
    public int attribute(int attr) {
        try {
            check((int) CudaDriver.cuDeviceGetAttribute.invokeExact(scratch, attr, device), "cuDeviceGetAttribute(" + attr + ")");
            return scratch.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The stream every op is enqueued on. */
    MemorySegment stream() {
        return stream;
    }

    // ------------------------------------------------------------------ memory

    /** Allocates {@code bytes} of device memory (not initialised). */
    public long malloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check((int) CudaDriver.cuMemAlloc.invokeExact(p, Math.max(bytes, 16)), "cuMemAlloc_v2(" + bytes + " bytes)");
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Frees device memory from {@link #malloc}. */
    public void free(long dptr) {
        try {
            check((int) CudaDriver.cuMemFree.invokeExact(dptr), "cuMemFree_v2");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Pinned (page-locked) host memory of {@code bytes}, for async copies. Free with {@link #freeHost}. */
    public MemorySegment mallocHost(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check((int) CudaDriver.cuMemAllocHost.invokeExact(p, bytes), "cuMemAllocHost_v2(" + bytes + " bytes)");
            return p.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void freeHost(MemorySegment host) {
        try {
            check((int) CudaDriver.cuMemFreeHost.invokeExact(host), "cuMemFreeHost");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Enqueues a zero fill of {@code words} 32-bit words at {@code dptr}. */
    public void memsetZeroAsync(long dptr, long words) {
        try {
            check((int) CudaDriver.cuMemsetD32Async.invokeExact(dptr, 0, words, stream), "cuMemsetD32Async");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Enqueues a copy from pinned host memory to the device. */
    public void copyHtoDAsync(long dst, MemorySegment pinnedSrc, long bytes) {
        try {
            check((int) CudaDriver.cuMemcpyHtoDAsync.invokeExact(dst, pinnedSrc, bytes, stream), "cuMemcpyHtoDAsync_v2");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Enqueues a copy from the device to pinned host memory. */
    public void copyDtoHAsync(MemorySegment pinnedDst, long src, long bytes) {
        try {
            check((int) CudaDriver.cuMemcpyDtoHAsync.invokeExact(pinnedDst, src, bytes, stream), "cuMemcpyDtoHAsync_v2");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Synchronous copy from any native host memory to the device. */
    public void copyHtoD(long dst, MemorySegment src, long bytes) {
        try {
            check((int) CudaDriver.cuMemcpyHtoD.invokeExact(dst, src, bytes), "cuMemcpyHtoD_v2");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Synchronous copy from the device to native host memory. */
    public void copyDtoH(MemorySegment dst, long src, long bytes) {
        try {
            check((int) CudaDriver.cuMemcpyDtoH.invokeExact(dst, src, bytes), "cuMemcpyDtoH_v2");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Enqueues a device-to-device copy. */
    public void copyDtoDAsync(long dst, long src, long bytes) {
        try {
            check((int) CudaDriver.cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream), "cuMemcpyDtoDAsync_v2");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Waits for everything enqueued on the stream. */
    public void synchronize() {
        try {
            check((int) CudaDriver.cuStreamSynchronize.invokeExact(stream), "cuStreamSynchronize");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Free and total device memory in bytes. */
    public long[] memInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), tot = a.allocate(JAVA_LONG);
            check((int) CudaDriver.cuMemGetInfo.invokeExact(f, tot), "cuMemGetInfo_v2");
            return new long[]{f.get(JAVA_LONG, 0), tot.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ------------------------------------------------------------------ modules

    /** The outcome of JIT-compiling one PTX module. */
    public record LoadedModule(MemorySegment module, MemorySegment function, String entry, double wallMs,
                               float jitMs, int registers, int localBytes, String infoLog) {
    }

    /**
     * JIT-compiles {@code ptx} (one {@code .entry} named {@code entry}) with the info and error logs
     * captured; a failure throws {@link CudaException} carrying the CUresult name and the ptxas error log.
     */
    public LoadedModule load(String ptx, String entry, int dynamicSmemBytes) {
        try (Arena a = Arena.ofConfined()) {
            long t0 = System.nanoTime(); // wall time includes linking on a cache miss: the full cold-start cost
            KernelCache.Key cacheKey = kernelCache == null ? null
                    : KernelCache.key(ptx, CubinLinker.JIT_OPTIONS, driverVersion, computeCapability(), deviceName);
            byte[] cubin = cachedOrLinkedCubin(cacheKey, ptx, entry);
            MemorySegment image = cubin != null ? a.allocateFrom(JAVA_BYTE, cubin) : a.allocateFrom(ptx, StandardCharsets.US_ASCII);
            JitOptions jit = JitOptions.allocate(a);
            MemorySegment pmod = a.allocate(ADDRESS);
            int r = (int) CudaDriver.cuModuleLoadDataEx.invokeExact(pmod, image, jit.count(), jit.ids(), jit.vals());
            if (r != 0 && cubin != null) {
                // a cached or linked cubin the driver refuses: drop it and JIT the PTX (its error log is then the real one)
                LOG.warning("kernel cache: the driver refused the cubin of " + entry + " (" + CudaDriver.errorName(r) + "); compiling its PTX");
                kernelCache.evict(cacheKey);
                image = a.allocateFrom(ptx, StandardCharsets.US_ASCII);
                r = (int) CudaDriver.cuModuleLoadDataEx.invokeExact(pmod, image, jit.count(), jit.ids(), jit.vals());
            }
            double wallMs = (System.nanoTime() - t0) / 1e6;
            check(r, "cuModuleLoadDataEx(" + entry + ")", "JIT error log: " + jit.errorLog());
            float jitMs = jit.wallMs();
            MemorySegment module = pmod.get(ADDRESS, 0);
            MemorySegment pfn = a.allocate(ADDRESS);
            check((int) CudaDriver.cuModuleGetFunction.invokeExact(pfn, module, a.allocateFrom(entry)), "cuModuleGetFunction(" + entry + ")");
            MemorySegment fn = pfn.get(ADDRESS, 0);
            if (dynamicSmemBytes > 48 * 1024)
                check((int) CudaDriver.cuFuncSetAttribute.invokeExact(fn, 8 /* MAX_DYNAMIC_SHARED_SIZE_BYTES */, dynamicSmemBytes),
                        "cuFuncSetAttribute(" + entry + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + dynamicSmemBytes + ")");
            MemorySegment out = a.allocate(JAVA_INT);
            check((int) CudaDriver.cuFuncGetAttribute.invokeExact(out, 4 /* NUM_REGS */, fn), "cuFuncGetAttribute");
            int regs = out.get(JAVA_INT, 0);
            check((int) CudaDriver.cuFuncGetAttribute.invokeExact(out, 3 /* LOCAL_SIZE_BYTES */, fn), "cuFuncGetAttribute");
            int local = out.get(JAVA_INT, 0);
            return new LoadedModule(module, fn, entry, wallMs, jitMs, regs, local, jit.infoLog());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Compiled kernels kept between processes ({@link KernelCache#fromSystem}); null when disabled. */
    private final KernelCache kernelCache = KernelCache.fromSystem().orElse(null);

    /** The kernel cache of this context, or null when it is off ({@code ZIMAGE_KERNEL_CACHE=off}). */
    public KernelCache kernelCache() {
        return kernelCache;
    }

    /**
     * The cubin of {@code ptx}: from the kernel cache, else linked now and stored; null when the cache is off
     * or linking fails (the caller then JIT-compiles the PTX, which reports the error with its log).
     */
    private byte[] cachedOrLinkedCubin(KernelCache.Key key, String ptx, String entry) {
        if (key == null) return null;
        var hit = kernelCache.get(key);
        if (hit.isPresent()) return hit.get();
        try {
            CubinLinker.Linked linked = CubinLinker.link(ptx, entry);
            kernelCache.put(key, linked.cubin());
            return linked.cubin();
        } catch (RuntimeException | LinkageError e) {
            LOG.warning("kernel cache: linking " + entry + " to a cubin failed (" + e.getMessage() + "); compiling its PTX without caching");
            return null;
        }
    }

    // ------------------------------------------------------------------ launches

    private static final int MAX_PARAMS = 48;
    private final MemorySegment paramValues = arena.allocate(8L * MAX_PARAMS, 16);
    private final MemorySegment paramPtrs = arena.allocate(ADDRESS, MAX_PARAMS);

    private final MemorySegment[] paramSlots = new MemorySegment[MAX_PARAMS];

    {
        for (int i = 0; i < MAX_PARAMS; i++) paramPtrs.setAtIndex(ADDRESS, i, paramSlots[i] = paramValues.asSlice(8L * i, 8));
    }

    /**
     * Enqueues {@code fn} on the stream. Arguments map to the kernel's parameters in order: {@link Long}
     * for {@code .u64} (device pointers), {@link Integer} for {@code .u32}, {@link Float} for {@code .f32},
     * a {@link MemorySegment} for a by-value parameter such as a 128-B tensor map (passed as it is).
     * The driver copies the values during the call (also under stream capture).
     */
    public void launch(MemorySegment fn, String entry, int gx, int gy, int gz, int block, int smemBytes, Object... args) {
        if (args.length > MAX_PARAMS) throw new IllegalArgumentException(entry + ": too many kernel arguments");
        for (int i = 0; i < args.length; i++) {
            long off = 8L * i;
            MemorySegment slot = paramSlots[i];
            switch (args[i]) {
                case Long l -> paramValues.set(JAVA_LONG, off, l);
                case Integer n -> paramValues.set(JAVA_INT, off, n);
                case Float f -> paramValues.set(JAVA_FLOAT, off, f);
                case MemorySegment m -> slot = m;
                default -> throw new IllegalArgumentException(entry + ": unsupported kernel argument " + args[i]);
            }
            paramPtrs.setAtIndex(ADDRESS, i, slot);
        }
        try {
            check((int) CudaDriver.cuLaunchKernel.invokeExact(fn, gx, gy, gz, block, 1, 1, smemBytes, stream, paramPtrs,
                    MemorySegment.NULL), "cuLaunchKernel(" + entry + " grid " + gx + "x" + gy + "x" + gz + " block " + block + ")");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Encodes into {@code map} (128 B, 64-B aligned) the TMA descriptor of a row-major bf16 matrix {@code [rows][cols]} at
     * device address {@code ptr}, read in boxes of {@code boxCols × boxRows} with the 128-B swizzle (boxCols·2 ≤ 128;
     * wgmma's swizzled K-major layout, docs/cuda-notes §7), zero fill outside the matrix. Host-only: enqueues nothing.
     */
    public void encodeTensorMapBf16(MemorySegment map, long ptr, long rows, long cols, int boxCols, int boxRows) {
        if (map.byteSize() < 128 || map.address() % 64 != 0) throw new IllegalArgumentException("a tensor map needs 128 B aligned to 64");
        if (ptr % 16 != 0 || (cols * 2) % 16 != 0)
            throw new IllegalArgumentException("TMA needs a 16-B aligned base and row pitch: ptr " + ptr + ", " + cols + " bf16 columns");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dims = a.allocateFrom(JAVA_LONG, cols, rows), strides = a.allocateFrom(JAVA_LONG, cols * 2);
            MemorySegment box = a.allocateFrom(JAVA_INT, boxCols, boxRows), elem = a.allocateFrom(JAVA_INT, 1, 1);
            check((int) CudaDriver.cuTensorMapEncodeTiled.invokeExact(map, 9 /* BFLOAT16 */, 2, MemorySegment.ofAddress(ptr), dims, strides, box, elem,
                    0 /* no interleave */, 3 /* SWIZZLE_128B */, 2 /* L2 promotion 128 B */, 0 /* zero fill */),
                    "cuTensorMapEncodeTiled(" + rows + "x" + cols + " bf16, box " + boxRows + "x" + boxCols + ")");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ------------------------------------------------------------------ events

    /** A new timing event. */
    public MemorySegment eventCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check((int) CudaDriver.cuEventCreate.invokeExact(p, 0), "cuEventCreate");
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventRecord(MemorySegment ev) {
        try {
            check((int) CudaDriver.cuEventRecord.invokeExact(ev, stream), "cuEventRecord");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Milliseconds between two recorded events (waits for {@code end}). */
    public float eventElapsedMs(MemorySegment start, MemorySegment end) {
        try {
            check((int) CudaDriver.cuEventSynchronize.invokeExact(end), "cuEventSynchronize");
            check((int) CudaDriver.cuEventElapsedTime.invokeExact(scratch, start, end), "cuEventElapsedTime_v2");
            return scratch.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Waits until the work recorded by {@code ev} has finished (at once for an event never recorded). */
    public void eventSynchronize(MemorySegment ev) {
        try {
            check((int) CudaDriver.cuEventSynchronize.invokeExact(ev), "cuEventSynchronize");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventDestroy(MemorySegment ev) {
        try {
            check((int) CudaDriver.cuEventDestroy.invokeExact(ev), "cuEventDestroy_v2");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ------------------------------------------------------------------ graphs

    /** Starts capturing the stream (THREAD_LOCAL mode: only this thread is barred from unsafe calls). */
    public void beginCapture() {
        try {
            check((int) CudaDriver.cuStreamBeginCapture.invokeExact(stream, 1 /* THREAD_LOCAL */), "cuStreamBeginCapture_v2");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Ends the capture and instantiates the graph; returns the executable graph (the graph itself is destroyed). */
    public MemorySegment endCaptureAndInstantiate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pg = a.allocate(ADDRESS);
            check((int) CudaDriver.cuStreamEndCapture.invokeExact(stream, pg), "cuStreamEndCapture");
            MemorySegment graph = pg.get(ADDRESS, 0);
            MemorySegment pe = a.allocate(ADDRESS);
            try {
                check((int) CudaDriver.cuGraphInstantiateWithFlags.invokeExact(pe, graph, 0L), "cuGraphInstantiateWithFlags");
            } finally {
                check((int) CudaDriver.cuGraphDestroy.invokeExact(graph), "cuGraphDestroy");
            }
            MemorySegment exec = pe.get(ADDRESS, 0);
            check((int) CudaDriver.cuGraphUpload.invokeExact(exec, stream), "cuGraphUpload");
            return exec;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Ends a capture that failed and discards what was recorded (errors ignored: the capture may be invalidated). */
    public void abortCapture() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pg = a.allocate(ADDRESS);
            int r = (int) CudaDriver.cuStreamEndCapture.invokeExact(stream, pg);
            if (r == 0 && pg.get(ADDRESS, 0).address() != 0) {
                int ignored = (int) CudaDriver.cuGraphDestroy.invokeExact(pg.get(ADDRESS, 0));
            }
        } catch (Throwable t) {
            // the original failure is what the caller reports
        }
    }

    /** Enqueues a replay of an instantiated graph. */
    public void graphLaunch(MemorySegment exec) {
        try {
            check((int) CudaDriver.cuGraphLaunch.invokeExact(exec, stream), "cuGraphLaunch");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphDestroy(MemorySegment exec) {
        try {
            check((int) CudaDriver.cuGraphExecDestroy.invokeExact(exec), "cuGraphExecDestroy");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        try {
            makeCurrent();
            int r1 = (int) CudaDriver.cuStreamSynchronize.invokeExact(stream);
            int r2 = (int) CudaDriver.cuStreamDestroy.invokeExact(stream);
            int r3 = (int) CudaDriver.cuDevicePrimaryCtxRelease.invokeExact(device);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            closed = true;
            arena.close();
        }
    }
}
