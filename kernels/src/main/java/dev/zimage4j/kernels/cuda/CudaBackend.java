package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Conv2dSpec;
import dev.zimage4j.kernels.Rope;
import dev.zimage4j.kernels.Tensor;
import dev.zimage4j.kernels.Weight;
import dev.zimage4j.kernels.ptx.Ptx;
import dev.zimage4j.safetensors.DType;
import dev.zimage4j.safetensors.FloatConversion;
import dev.zimage4j.safetensors.TensorView;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.logging.Logger;

import static dev.zimage4j.kernels.cuda.GemmKernel.ASource;
import static dev.zimage4j.kernels.cuda.GemmKernel.Epilogue;

/**
 * The {@link Backend} on an NVIDIA GPU: the CUDA driver through FFM ({@link CudaContext}), kernels
 * generated as PTX by this package and JIT-compiled by the driver on first use.
 *
 * <p>Activations are f32 in device memory, except matrix operands ({@link #allocOperand}: bf16, written by norms,
 * GEMM epilogues and attention, read by GEMMs and attention); weights are uploaded once ({@link #weight}) as bf16
 * (vectors as f32). GEMMs and attention run on tensor cores in bf16 with f32 accumulation, so results
 * match an f32 reference to bf16 precision (the fixtures' GPU tolerance). Every op is enqueued on one
 * stream; {@link #replay} records a sequence of ops into a CUDA graph on first use and replays it.
 *
 * <p>Not thread-safe: drive one backend from one platform thread at a time.
 */
public final class CudaBackend implements Backend {

    private static final Logger LOG = Logger.getLogger(CudaBackend.class.getName());

    private final CudaContext cu;
    private final String name;
    private final Map<String, CudaContext.LoadedModule> kernels = new HashMap<>();
    private final Map<Object, MemorySegment> graphs = new HashMap<>();
    private final Map<String, Double> jitMs = new LinkedHashMap<>();
    private double graphCaptureMs;
    private boolean capturing, dryRun;
    private MemorySegment staging;        // pinned host buffer for uploads/downloads
    private static final long UPLOAD_CHUNK = 32L << 20;
    /*
     * Reuse of a GEMM's bf16 activation copy by the next op when that op is again a GEMM of the same activations
     * (the DiT's and the text encoder's q, k, v projections of one normed input): each public op counts itself in
     * opCount on entry, so the copy in scratch is known fresh exactly when nothing ran between the two GEMMs.
     */
    private long opCount;
    private long bf16Src, bf16Elems, bf16Dst, bf16At = -1;
    private MemorySegment[] uploadRing;   // two pinned buffers for weight uploads (host copy of one overlaps the DMA of the other)
    private MemorySegment[] uploadDone;   // event per ring buffer: its last DMA has finished
    private int uploadNext;
    private long idsDevice, idsCapacity;  // device scratch for embedding ids
    private long scratch, scratchBytes;   // device scratch for bf16 copies of activations (GEMM A, attention Q/K/V), conv patch matrices
    private long dryScratchNeed;          // the most scratch a dry pass of replay asked for
    private final java.util.List<Long> retiredScratch = new java.util.ArrayList<>(); // may still be referenced by graphs
    private boolean closed;

    private CudaBackend(CudaContext cu, int ordinal) {
        this.cu = cu;
        this.name = "cuda:" + ordinal;
        this.useWgmma = cu.computeCapability() == 90 && !Boolean.getBoolean("zimage.cuda.noWgmma");
    }

    /** sm_90a code runs only on compute capability 9.0 (Hopper); elsewhere, or with -Dzimage.cuda.noWgmma=true, GEMMs use mma.sync. */
    private final boolean useWgmma;

    /**
     * Opens GPU {@code ordinal}.
     *
     * @throws CudaUnavailableException when there is no driver, no device, or the device is not sm_80+
     */
    public static CudaBackend create(int ordinal) {
        CudaContext cu = CudaContext.open(ordinal);
        if (cu.computeCapability() < 80) {
            String dev = cu.deviceName() + " (compute capability " + cu.computeCapability() / 10 + "." + cu.computeCapability() % 10 + ")";
            cu.close();
            throw new CudaUnavailableException("GPU " + dev + " lacks bf16 mma.sync; the CUDA backend needs compute capability 8.0 or newer", null);
        }
        return new CudaBackend(cu, ordinal);
    }

    /** The device's name and capability, for logs. */
    public String describe() {
        return cu.deviceName() + " (sm_" + cu.computeCapability() + ", " + cu.smCount() + " SMs, driver " + cu.driverVersion() + ")";
    }

    /** The context (for benchmarks: events). */
    public CudaContext context() {
        return cu;
    }

    @Override
    public String name() {
        return name;
    }

    /** True: GEMMs and attention take bf16 operands (f32 accumulation). */
    @Override
    public boolean reducedPrecision() {
        return true;
    }

    // ------------------------------------------------------------------ kernels

    private CudaContext.LoadedModule kernel(String entry, int dynSmem, Supplier<Ptx> gen) {
        CudaContext.LoadedModule m = kernels.get(entry);
        if (m != null) return m;
        if (capturing) throw new IllegalStateException("kernel " + entry + " was first needed during graph capture");
        Ptx p = gen.get();
        m = cu.load(p.build(), p.entry(), dynSmem);
        if (m.localBytes() > 0)
            LOG.warning(() -> "kernel " + p.entry() + " uses local memory (register spills?)");
        kernels.put(entry, m);
        jitMs.put(entry, m.wallMs());
        return m;
    }

    private void launch(CudaContext.LoadedModule m, int gx, int gy, int gz, int block, int smem, Object... args) {
        if (dryRun) return;
        MemorySegment before = null;
        if (profile != null) {
            before = profileEvent();
            cu.eventRecord(before);
        }
        cu.launch(m.function(), m.entry(), gx, gy, gz, block, smem, args);
        if (profile != null) {
            MemorySegment after = profileEvent();
            cu.eventRecord(after);
            profile.add(new Timed(m.entry(), before, after));
        }
        if (DEBUG_SYNC && !capturing) cu.synchronize();
    }

    // ------------------------------------------------------------------ per-kernel profile

    private record Timed(String entry, MemorySegment start, MemorySegment end) {
    }

    private java.util.List<Timed> profile;
    private final java.util.List<MemorySegment> eventPool = new java.util.ArrayList<>();
    private int eventsUsed;

    private MemorySegment profileEvent() {
        if (eventsUsed == eventPool.size()) eventPool.add(cu.eventCreate());
        return eventPool.get(eventsUsed++);
    }

    /**
     * Starts recording every launch between two events, for {@link #profileReport()}. While profiling,
     * {@link #replay} runs its ops eagerly (a graph would hide the individual kernels), so times include no
     * graph benefit; use it to see where the time goes, not for end-to-end figures.
     */
    public void startProfile() {
        enter();
        profile = new java.util.ArrayList<>();
        eventsUsed = 0;
    }

    /** Stops profiling and returns a table: per kernel, launches, total and mean GPU ms, share of the sum. */
    public String profileReport() {
        enter();
        if (profile == null) throw new IllegalStateException("profileReport() without startProfile()");
        cu.synchronize();
        Map<String, double[]> by = new LinkedHashMap<>();
        double total = 0;
        for (Timed t : profile) {
            double ms = cu.eventElapsedMs(t.start(), t.end());
            double[] a = by.computeIfAbsent(t.entry(), e -> new double[2]);
            a[0]++;
            a[1] += ms;
            total += ms;
        }
        profile = null;
        StringBuilder sb = new StringBuilder(String.format("%-58s %8s %10s %9s %6s%n", "kernel", "launches", "total ms", "mean us", "share"));
        double sum = total;
        by.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue()[1], x.getValue()[1])).forEach(e ->
                sb.append(String.format("%-58s %8d %10.3f %9.1f %5.1f%%%n", e.getKey(), (long) e.getValue()[0], e.getValue()[1],
                        1000 * e.getValue()[1] / e.getValue()[0], 100 * e.getValue()[1] / sum)));
        sb.append(String.format("%-58s %8d %10.3f%n", "sum of kernel times", (long) by.values().stream().mapToDouble(a -> a[0]).sum(), total));
        return sb.toString();
    }

    /** Set {@code -Dzimage.cuda.syncEachLaunch=true} to surface asynchronous faults at the launch that caused them. */
    private static final boolean DEBUG_SYNC = Boolean.getBoolean("zimage.cuda.syncEachLaunch");

    private static int blocksFor(long n, int threads) {
        return (int) Math.max(1, Math.min((n + threads - 1) / threads, 132L * 16));
    }

    private void elementwise(String entry, Supplier<Ptx> gen, long n, Object... args) {
        CudaContext.LoadedModule m = kernel(entry, 0, gen);
        launch(m, blocksFor(n, 256), 1, 1, 256, 0, args);
    }

    /** Milliseconds the driver spent JIT-compiling each kernel loaded so far (cold-start cost). */
    public Map<String, Double> jitTimes() {
        return Map.copyOf(jitMs);
    }

    /** Total PTX JIT time so far, ms. */
    public double totalJitMs() {
        return jitMs.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    /** Total graph capture + instantiate time so far, ms. */
    public double totalGraphCaptureMs() {
        return graphCaptureMs;
    }

    /** Registers and local bytes per loaded kernel, one line each. */
    public String kernelReport() {
        StringBuilder sb = new StringBuilder();
        kernels.values().forEach(m -> sb.append(String.format("%-60s regs %3d  local %4d B  jit %7.1f ms%n", m.entry(), m.registers(), m.localBytes(), m.wallMs())));
        return sb.toString();
    }

    // ------------------------------------------------------------------ memory

    private void enter() {
        opCount++;
        if (closed) throw new IllegalStateException(name + " is closed");
        cu.makeCurrent();
    }

    private void noCapture(String op) {
        if (capturing) throw new IllegalStateException(op + " synchronises with the host and cannot be recorded in a graph (replay)");
    }

    /** A float32 tensor of this backend (every op but the few that also take a bf16 operand, {@link #operand}). */
    private static CudaTensor t(Tensor x) {
        CudaTensor c = operand(x);
        if (c.bf16)
            throw new IllegalArgumentException("tensor " + x + " is a bf16 matrix operand (allocOperand): only rmsNorm, layerNorm, rmsNormRope, "
                    + "linear, linearSwiGLU and attention write it, only linear, linearAdd, linearSwiGLU and attention read it; use an alloc tensor here");
        return c;
    }

    /** A tensor of this backend, f32 or a bf16 operand ({@link #allocOperand}). */
    private static CudaTensor operand(Tensor x) {
        if (x instanceof CudaTensor c) return c;
        throw new IllegalArgumentException("tensor " + x + " does not belong to a CUDA backend");
    }

    private static CudaWeight w(Weight x) {
        if (x instanceof CudaWeight c) return c;
        throw new IllegalArgumentException("weight " + (x == null ? "null" : x.name()) + " was not prepared by a CUDA backend");
    }

    private static long ptrOrZero(Weight x) {
        return x == null ? 0L : w(x).ptr();
    }

    private static long ptrOrZero(Tensor x) {
        return x == null ? 0L : t(x).ptr();
    }

    @Override
    public Tensor alloc(int... shape) {
        enter();
        noCapture("alloc");
        long n = 1;
        for (int d : shape) {
            if (d < 1) throw new IllegalArgumentException("alloc: shape " + Arrays.toString(shape) + " has a dim < 1");
            n *= d;
        }
        if (shape.length == 0) throw new IllegalArgumentException("alloc: empty shape");
        long p = cu.malloc(4 * n);
        cu.memsetZeroAsync(p, n);
        return new CudaTensor(this, p, n, 0, shape.clone(), null);
    }

    /**
     * bf16 storage when the last axis is a multiple of 8 (every row view then starts 16-B aligned, as the
     * tensor-core kernels' cp.async loads need); otherwise a float32 tensor, converted per GEMM as before.
     */
    @Override
    public Tensor allocOperand(int... shape) {
        if (shape.length == 0 || shape[shape.length - 1] % 8 != 0) return alloc(shape);
        enter();
        noCapture("allocOperand");
        long n = 1;
        for (int d : shape) {
            if (d < 1) throw new IllegalArgumentException("allocOperand: shape " + Arrays.toString(shape) + " has a dim < 1");
            n *= d;
        }
        long p = cu.malloc(2 * n);
        cu.memsetZeroAsync(p, (n + 1) / 2);
        return new CudaTensor(this, p, n, 0, shape.clone(), null, true);
    }

    /** True: tensors are device memory; keep loop state there. */
    @Override
    public boolean deviceResident() {
        return true;
    }

    private final MemorySegment[] fenceEvents = new MemorySegment[4];
    private int fenceNext;

    /**
     * An event recorded on the stream. Fences reuse a ring of 4 events: a fence whose event was recorded again
     * by a later fence waits for that later point, which still satisfies its contract.
     */
    @Override
    public Fence fence() {
        enter();
        noCapture("fence");
        int i = fenceNext;
        fenceNext = (fenceNext + 1) % fenceEvents.length;
        if (fenceEvents[i] == null) fenceEvents[i] = cu.eventCreate();
        MemorySegment ev = fenceEvents[i];
        cu.eventRecord(ev);
        return () -> {
            if (closed) return;
            cu.makeCurrent();
            cu.eventSynchronize(ev);
        };
    }

    private MemorySegment staging(long bytes) {
        if (staging == null || staging.byteSize() < bytes) {
            if (staging != null) cu.freeHost(staging);
            staging = cu.mallocHost(Math.max(bytes, 1 << 20));
        }
        return staging;
    }

    @Override
    public void upload(Tensor dst, float[] src) {
        enter();
        noCapture("upload");
        CudaTensor d = operand(dst);
        if (src.length != d.numel())
            throw new IllegalArgumentException("upload: " + src.length + " floats into tensor " + Tensor.shapeString(d.shape));
        long bytes = (long) d.elementBytes() * src.length;
        cu.synchronize(); // the staging buffer may still feed an earlier copy
        MemorySegment s = staging(bytes);
        if (d.bf16) for (int i = 0; i < src.length; i++) s.setAtIndex(ValueLayout.JAVA_SHORT, i, FloatConversion.floatToBf16(src[i]));
        else MemorySegment.copy(src, 0, s, ValueLayout.JAVA_FLOAT, 0, src.length);
        cu.copyHtoDAsync(d.ptr(), s, bytes);
        cu.synchronize();
    }

    @Override
    public void download(Tensor src, float[] dst) {
        enter();
        noCapture("download");
        CudaTensor s = operand(src);
        if (dst.length < s.numel())
            throw new IllegalArgumentException("download: tensor " + Tensor.shapeString(s.shape) + " into " + dst.length + " floats");
        long bytes = (long) s.elementBytes() * s.numel();
        MemorySegment st = staging(bytes);
        cu.copyDtoHAsync(st, s.ptr(), bytes);
        cu.synchronize();
        if (s.bf16) for (int i = 0; i < s.numel(); i++) dst[i] = FloatConversion.bf16ToFloat(st.getAtIndex(ValueLayout.JAVA_SHORT, i));
        else MemorySegment.copy(st, ValueLayout.JAVA_FLOAT, 0, dst, 0, (int) s.numel());
    }

    @Override
    public void copy(Tensor dst, Tensor src) {
        enter();
        CudaTensor d = operand(dst), s = operand(src);
        if (d.numel() != s.numel())
            throw new IllegalArgumentException("copy: " + Tensor.shapeString(s.shape) + " into " + Tensor.shapeString(d.shape));
        if (d.bf16 != s.bf16)
            throw new IllegalArgumentException("copy: " + s + " into " + d + ": one is a bf16 operand (allocOperand), the other f32");
        if (!dryRun) cu.copyDtoDAsync(d.ptr(), s.ptr(), (long) s.elementBytes() * s.numel());
    }

    @Override
    public void sync() {
        enter();
        noCapture("sync");
        cu.synchronize();
    }

    @Override
    public Weight weight(TensorView stored, float scale) {
        enter();
        noCapture("weight");
        if (!stored.dtype().isFloat())
            throw new IllegalArgumentException("weight " + stored.name() + ": dtype " + stored.dtype() + " is not a float type");
        int[] shape = stored.intShape();
        if (shape.length == 0) shape = new int[]{1};
        long n = stored.numel();
        boolean vector = n == shape[shape.length - 1];
        long bytes = n * (vector ? 4 : 2);
        long p = cu.malloc(bytes);
        if (!vector && stored.dtype() == DType.BF16 && scale == 1f) {
            uploadStaged(p, stored.data(), bytes); // already the device format
        } else {
            try (Arena a = Arena.ofShared()) { // shared: uploadStaged copies it from several threads
                MemorySegment host = a.allocate(bytes, 16);
                float[] chunk = new float[(int) Math.min(n, 1 << 20)];
                for (long i = 0; i < n; i += chunk.length) {
                    int len = (int) Math.min(chunk.length, n - i);
                    FloatConversion.toFloat(stored.dtype(), stored.data(), i, chunk, 0, len);
                    for (int j = 0; j < len; j++) {
                        float v = chunk[j] * scale;
                        if (vector) host.setAtIndex(ValueLayout.JAVA_FLOAT, i + j, v);
                        else host.setAtIndex(ValueLayout.JAVA_SHORT, i + j, FloatConversion.floatToBf16(v));
                    }
                }
                uploadStaged(p, host, bytes);
            }
        }
        return new CudaWeight(stored.name(), stored.dtype(), shape, p, bytes, vector);
    }

    /**
     * Copies {@code bytes} of host memory (mapped file, heap-free native) to {@code dst} through the two pinned
     * ring buffers: each 32 MiB chunk is copied into a free buffer by several threads, then DMA'd asynchronously
     * while the next chunk is copied. A pageable {@code cuMemcpyHtoD} of the 20 GB model ran at ≈ 4.7 GB/s.
     * Returns with the last DMA possibly in flight; the stream orders it before every later op, and
     * {@code src} is no longer read.
     */
    private void uploadStaged(long dst, MemorySegment src, long bytes) {
        if (uploadRing == null) {
            uploadRing = new MemorySegment[]{cu.mallocHost(UPLOAD_CHUNK), cu.mallocHost(UPLOAD_CHUNK)};
            uploadDone = new MemorySegment[]{cu.eventCreate(), cu.eventCreate()};
        }
        for (long off = 0; off < bytes; off += UPLOAD_CHUNK) {
            int b = uploadNext;
            uploadNext ^= 1;
            cu.eventSynchronize(uploadDone[b]); // the buffer's previous DMA has drained
            long len = Math.min(UPLOAD_CHUNK, bytes - off);
            MemorySegment buf = uploadRing[b];
            int parts = (int) Math.clamp(len >> 22, 1, 8); // ≥ 4 MiB per thread
            long part = (len + parts - 1) / parts;
            long base = off;
            java.util.stream.IntStream.range(0, parts).parallel().forEach(i -> {
                long from = i * part, n = Math.min(part, len - from);
                if (n > 0) MemorySegment.copy(src, base + from, buf, from, n);
            });
            cu.copyHtoDAsync(dst + off, buf, len);
            cu.eventRecord(uploadDone[b]);
        }
    }

    @Override
    public void release(Weight weight) {
        enter();
        CudaWeight cw = w(weight);
        if (cw.released) return;
        cu.synchronize();
        cu.free(cw.ptr);
        cw.released = true;
    }

    @Override
    public void release(Tensor tensor) {
        enter();
        CudaTensor ct = operand(tensor);
        if (ct.root != null) return; // views own nothing
        if (ct.released) return;
        cu.synchronize();
        cu.free(ct.base);
        ct.released = true;
    }

    /**
     * The bf16 scratch of at least {@code bytes}. Grown outside capture only (the dry pass of {@link #replay}
     * grows it first); a replaced buffer is kept until close because recorded graphs may still use it.
     */
    private long scratch(long bytes) {
        if (dryRun) { // launches are skipped: only note the need, grown once before the capture (no chain of retired buffers)
            dryScratchNeed = Math.max(dryScratchNeed, bytes);
            return scratch;
        }
        if (bytes > scratchBytes) {
            if (capturing) throw new IllegalStateException("bf16 scratch must grow during graph capture (" + bytes + " bytes)");
            if (scratch != 0) retiredScratch.add(scratch);
            scratchBytes = Math.max(bytes, scratchBytes * 3 / 2);
            scratch = cu.malloc(scratchBytes);
        }
        return scratch;
    }

    /** Enqueues the f32 → bf16 conversion of {@code n} elements at {@code src} into {@code dst}. */
    private void toBf16(long dst, long src, long n) {
        boolean vec = n % 8 == 0 && src % 16 == 0 && dst % 16 == 0;
        elementwise(vec ? "to_bf16_vec8" : "to_bf16", () -> ElementwiseKernels.toBf16(vec), vec ? n / 8 : n, dst, src, (int) n);
    }

    private static long align16(long bytes) {
        return (bytes + 15) & ~15L;
    }

    // ------------------------------------------------------------------ graphs

    /**
     * Records {@code launches} into a CUDA graph the first time {@code key} is seen and replays it for
     * the same key afterwards. The first time, a dry pass runs the lambda with launches suppressed so
     * every kernel it needs is JIT-compiled before capture; then the capture runs and the graph is
     * launched once. The ops must be capturable: no upload, download, sync, alloc or embedding lookup inside.
     */
    @Override
    public void replay(Object key, Runnable launches) {
        enter();
        if (capturing) throw new IllegalStateException("replay(" + key + ") nested inside another replay");
        if (profile != null) { // profiling: run eagerly so each kernel is timed
            launches.run();
            return;
        }
        MemorySegment exec = graphs.get(key);
        bf16At = -1; // a graph starts and ends with no bf16 copy assumed in scratch
        if (exec == null) {
            dryRun = true;
            dryScratchNeed = 0;
            try {
                launches.run();
            } finally {
                dryRun = false;
            }
            scratch(dryScratchNeed);
            long t0 = System.nanoTime();
            bf16At = -1;
            capturing = true;
            cu.beginCapture();
            try {
                launches.run();
                exec = cu.endCaptureAndInstantiate();
            } catch (RuntimeException e) {
                cu.abortCapture();
                throw e;
            } finally {
                capturing = false;
            }
            graphCaptureMs += (System.nanoTime() - t0) / 1e6;
            graphs.put(key, exec);
        }
        bf16At = -1;
        cu.graphLaunch(exec);
    }

    // ------------------------------------------------------------------ linear algebra

    private static void requireShape(String op, boolean ok, Object... parts) {
        if (!ok) {
            StringBuilder sb = new StringBuilder(op).append(": shapes do not match:");
            for (Object p : parts) sb.append(' ').append(p instanceof int[] a ? Arrays.toString(a) : p);
            throw new IllegalArgumentException(sb.toString());
        }
    }

    private void gemm(Epilogue epi, CudaTensor y, CudaTensor x, long b, long b2, boolean bF32, long bias, int M, int N, int K) {
        gemm(null, epi, y, x, b, b2, bF32, bias, M, N, K);
    }

    /**
     * Hopper GEMMs through 2-CTA clusters that share the weight tile by TMA multicast ({@link GemmKernel#tmaClusterConfig});
     * off by default, {@code -Dzimage.cuda.gemmCluster=true} or the benchmark turns it on.
     */
    boolean gemmClusters = Boolean.getBoolean("zimage.cuda.gemmCluster");

    /** For the benchmark's tile sweep: the attention variant to use for its head dim (null: the default). */
    AttentionKernel.Config forcedAttention;

    /** For the benchmark: the f32 → bf16 conversion a GEMM makes of its activations {@code x} (into the scratch it uses). */
    void convertForBench(Tensor x) {
        enter();
        CudaTensor xt = t(x);
        toBf16(scratch(2L * xt.numel()), xt.ptr(), xt.numel());
    }

    /** For the benchmark's tile sweep: {@code linear} (or SwiGLU when {@code w2} is given) with an explicit all-bf16 GEMM variant. */
    void linearWith(GemmKernel.Config config, Tensor y, Tensor x, Weight w, Weight w2) {
        enter();
        CudaTensor yt = operand(y), xt = t(x);
        CudaWeight wc = w(w);
        gemm(config, config.epi(), yt, xt, wc.ptr(), w2 == null ? 0 : w(w2).ptr(), false, 0, xt.rows(), wc.shape[0], xt.cols());
    }

    /** One TMA descriptor's inputs: a bf16 matrix {@code [rows][cols]} at {@code ptr}, read in boxes of boxCols × boxRows. */
    private record TensorMapKey(long ptr, long rows, long cols, int boxCols, int boxRows) {
    }

    /**
     * Encoded tensor maps by their inputs (a map is a pure function of them, so an entry stays right even if its memory
     * is freed and reused); encoding once keeps the host cost of a TMA launch at that of any other launch. The driver
     * copies by-value parameters at launch and at capture, so one segment serves every launch.
     */
    private final Map<TensorMapKey, MemorySegment> tensorMaps = new HashMap<>();
    private final Arena tensorMapArena = Arena.ofAuto();

    private MemorySegment tensorMap(long ptr, long rows, long cols, int boxCols, int boxRows) {
        return tensorMaps.computeIfAbsent(new TensorMapKey(ptr, rows, cols, boxCols, boxRows), key -> {
            MemorySegment map = tensorMapArena.allocate(128, 64);
            cu.encodeTensorMapBf16(map, ptr, rows, cols, boxCols, boxRows);
            return map;
        });
    }

    private void gemm(GemmKernel.Config forced, Epilogue epi, CudaTensor y, CudaTensor x, long b, long b2, boolean bF32, long bias, int M, int N, int K) {
        boolean vec = K % 8 == 0 && x.ptr() % 16 == 0 && b % 16 == 0 && (b2 == 0 || b2 % 16 == 0);
        long a = x.ptr();
        ASource src = ASource.DENSE;
        if (x.bf16) { // written in bf16 by a norm (allocOperand): the tensor cores read it as it is
            if (!vec || bF32)
                throw new IllegalArgumentException("GEMM of the bf16 operand " + x + " needs K % 8 == 0 (K = " + K
                        + "), 16-B aligned operands and a matrix weight");
            bf16At = -1;
            src = ASource.BF16;
        } else if (vec && !bF32) { // both operands bf16: convert the activations once, then the all-cp.async pipeline
            long n = (long) M * K;
            a = scratch(2L * n);
            boolean fresh = bf16At == opCount - 1 && bf16Src == x.ptr() && bf16Elems == n && bf16Dst == a;
            if (!fresh) toBf16(a, x.ptr(), n);
            long yEnd = y.ptr() + (y.bf16 ? 2L : 4L) * y.numel(), xEnd = x.ptr() + 4L * n;
            boolean yOverlapsX = y.ptr() < xEnd && x.ptr() < yEnd;
            bf16At = yOverlapsX ? -1 : opCount;
            bf16Src = x.ptr();
            bf16Elems = n;
            bf16Dst = a;
            src = ASource.BF16;
        }
        // TMA needs 16-B aligned operands (given with vec), and the pair epilogue N % 8 == 0 with y and bias 8-B aligned
        boolean tmaFits = N % 8 == 0 && y.ptr() % 16 == 0 && bias % 8 == 0;
        GemmKernel.Config c = forced != null && src == ASource.BF16 ? forced
                : src == ASource.BF16 && useWgmma ? (!tmaFits ? GemmKernel.wgmmaConfig(epi)
                : gemmClusters ? GemmKernel.tmaClusterConfig(epi, M, N, cu.smCount()) : GemmKernel.tmaConfig(epi, M, N, cu.smCount()))
                : GemmKernel.config(src, bF32, epi, vec);
        // an operand output (linear, linearSwiGLU): the epilogue writes bf16, no conversion pass
        if (y.bf16 && epi != Epilogue.STORE && epi != Epilogue.SWIGLU)
            throw new IllegalArgumentException(epi + " GEMM cannot write the bf16 operand " + y + " (it reads or transposes y)");
        c = c.withYBf16(y.bf16);
        GemmKernel.Config cfg = c;
        CudaContext.LoadedModule m = kernel(c.entry(), c.dynamicSmem(), () -> GemmKernel.generate(cfg));
        if (c.tma()) {
            if (!tmaFits) throw new IllegalArgumentException(c.entry() + ": needs N % 8 == 0 and aligned y/bias (N=" + N + ")");
            int bBox = c.bn() / c.cluster(); // with a cluster each CTA loads one slice of the B tile for all
            launch(m, c.gridX(M, N, cu.smCount()), c.gridY(M, N), 1, c.threads(), c.dynamicSmem(), tensorMap(a, M, K, c.bk(), c.bm()),
                    tensorMap(b, N, K, c.bk(), bBox), tensorMap(b2 != 0 ? b2 : b, N, K, c.bk(), bBox), y.ptr(), bias, M, N, K);
            return;
        }
        launch(m, c.gridX(M, N, cu.smCount()), c.gridY(M, N), 1, c.threads(), c.dynamicSmem(),
                y.ptr(), a, b, b2, bias, M, N, K, 0, 0, 0, 0, 0, 0, 0, 1);
    }

    private void linear(String op, Epilogue epi, Tensor yT, Tensor xT, Weight wt, Weight bias) {
        enter();
        CudaTensor y = epi == Epilogue.ADD ? t(yT) : operand(yT), x = operand(xT); // linear may write a bf16 operand, linearAdd not
        CudaWeight wc = w(wt);
        int K = x.cols(), M = x.rows();
        requireShape(op, wc.shape.length == 2 && wc.shape[1] == K && y.cols() == wc.shape[0] && y.rows() == M,
                "y", y.shape, "x", x.shape, "w", wc.shape);
        if (bias != null) requireShape(op, w(bias).numel() == wc.shape[0], "bias", bias.shape(), "w", wc.shape);
        if (bias != null && !w(bias).f32) throw new IllegalArgumentException(op + ": bias " + bias.name() + " must be a vector");
        gemm(epi, y, x, wc.ptr(), 0, wc.f32, ptrOrZero(bias), M, wc.shape[0], K);
    }

    @Override
    public void linear(Tensor y, Tensor x, Weight w, Weight bias) {
        linear("linear", Epilogue.STORE, y, x, w, bias);
    }

    @Override
    public void linearAdd(Tensor y, Tensor x, Weight w, Weight bias) {
        linear("linearAdd", Epilogue.ADD, y, x, w, bias);
    }

    @Override
    public void linearSwiGLU(Tensor yT, Tensor xT, Weight wGate, Weight wUp) {
        enter();
        CudaTensor y = operand(yT), x = operand(xT); // y may be a bf16 operand (the FFN hidden state the down projection reads)
        CudaWeight g = w(wGate), u = w(wUp);
        int K = x.cols(), M = x.rows(), F = g.shape[0];
        requireShape("linearSwiGLU", g.shape.length == 2 && Arrays.equals(g.shape, u.shape) && g.shape[1] == K && y.cols() == F && y.rows() == M,
                "y", y.shape, "x", x.shape, "wGate", g.shape, "wUp", u.shape);
        if (g.f32 || u.f32) throw new IllegalArgumentException("linearSwiGLU: weights must be matrices with more than one row");
        gemm(Epilogue.SWIGLU, y, x, g.ptr(), u.ptr(), false, 0, M, F, K);
    }

    @Override
    public void matmulTransposed(Tensor yT, Tensor xT, Tensor wT) {
        enter();
        CudaTensor y = t(yT), x = t(xT), wv = t(wT);
        int K = x.cols(), M = x.rows(), N = wv.rows();
        requireShape("matmulTransposed", wv.cols() == K && y.rows() == M && y.cols() == N, "y", y.shape, "x", x.shape, "w", wv.shape);
        gemm(Epilogue.STORE, y, x, wv.ptr(), 0, true, 0, M, N, K);
    }

    @Override
    public void embeddingLookup(Tensor yT, Weight table, int[] ids) {
        enter();
        noCapture("embeddingLookup");
        CudaTensor y = t(yT);
        CudaWeight tb = w(table);
        int D = tb.shape[tb.shape.length - 1], V = (int) (tb.numel() / D);
        requireShape("embeddingLookup", y.rows() == ids.length && y.cols() == D, "y", y.shape, "table", tb.shape, "ids", ids.length);
        if (tb.f32) throw new IllegalArgumentException("embeddingLookup: table " + tb.name + " has a single row");
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= V)
                throw new IllegalArgumentException("embeddingLookup: id " + ids[i] + " at position " + i + " outside [0, " + V + ")");
        if (idsCapacity < ids.length) {
            if (idsDevice != 0) {
                cu.synchronize();
                cu.free(idsDevice);
            }
            idsCapacity = Math.max(ids.length, 1024);
            idsDevice = cu.malloc(4 * idsCapacity);
        }
        cu.synchronize(); // earlier lookups may still read the ids scratch
        MemorySegment s = staging(4L * ids.length);
        MemorySegment.copy(ids, 0, s, ValueLayout.JAVA_INT, 0, ids.length);
        cu.copyHtoDAsync(idsDevice, s, 4L * ids.length);
        long n = (long) ids.length * D;
        elementwise("embedding_bf16", ElementwiseKernels::embedding, n, y.ptr(), tb.ptr(), idsDevice, (int) n, D);
        cu.synchronize(); // the staging buffer is reused by the next host copy
    }

    @Override
    public void fillRows(Tensor yT, Weight row) {
        enter();
        CudaTensor y = t(yT);
        CudaWeight r = w(row);
        requireShape("fillRows", r.numel() == y.cols() && r.f32, "y", y.shape, "row", r.shape);
        elementwise("fill_rows", ElementwiseKernels::fillRows, y.numel(), y.ptr(), r.ptr(), (int) y.numel(), y.cols());
    }

    // ------------------------------------------------------------------ attention

    @Override
    public void attention(Tensor outT, Tensor qT, Tensor kT, Tensor vT, AttentionSpec spec) {
        enter();
        CudaTensor out = operand(outT), q = operand(qT), k = operand(kT), v = operand(vT); // out may be a bf16 operand too
        int D = spec.headDim(), Sq = q.rows(), Sk = k.rows();
        requireShape("attention", q.cols() == spec.heads() * D && out.cols() == q.cols() && out.rows() == Sq
                        && k.cols() == spec.kvHeads() * D && v.cols() == k.cols() && v.rows() == Sk,
                "out", out.shape, "q", q.shape, "k", k.shape, "v", v.shape, spec);
        if (spec.causal() && Sq != Sk)
            throw new IllegalArgumentException("attention: causal needs as many queries as keys, got " + Sq + " and " + Sk);
        boolean bf16 = D % 8 == 0;
        AttentionKernel.Config c = forcedAttention != null && bf16 && forcedAttention.headDim() == D ? forcedAttention : null;
        if (c == null) {
            // Hopper: the wgmma kernel where it applies (head dim 64/128/512, positive scale, Q rows 16-B aligned for its f32 loads)
            // (it reads Q as f32: a bf16 operand q takes the mma.sync kernel)
            AttentionKernel.Config w = useWgmma && !q.bf16 && spec.scale() > 0 && q.ptr() % 16 == 0 ? AttentionKernel.wgmmaConfig(D, Sq, spec.heads()) : null;
            c = w != null ? w : AttentionKernel.config(D, bf16);
        }
        if (c.wgmma() && q.bf16) throw new IllegalArgumentException("attention: " + c.entry() + " reads q as f32; got the bf16 operand " + q);
        if (out.bf16 && out.ptr() % 4 != 0) throw new IllegalArgumentException("attention: bf16 output " + out + " is not 4-B aligned");
        c = c.withOutBf16(out.bf16); // into an operand: the kernel rounds O to bf16 as it stores it
        AttentionKernel.Config cfg = c;
        CudaContext.LoadedModule m = kernel(c.entry(), c.smemBytes(), () -> AttentionKernel.generate(cfg));
        long qp = q.ptr(), kp = k.ptr(), vp = v.ptr();
        if (!bf16 && (q.bf16 || k.bf16 || v.bf16))
            throw new IllegalArgumentException("attention: head dim " + D + " is not a multiple of 8, so q, k, v must be f32 tensors, not bf16 operands");
        if (bf16) { // one conversion pass per f32 operand (the wgmma kernel converts Q itself; bf16 operands need none)
            boolean convertQ = !c.wgmma() && !q.bf16;
            long qb = convertQ ? align16(2 * q.numel()) : 0, kb = align16(2 * k.numel());
            long base = scratch(qb + 2 * kb);
            if (convertQ) {
                toBf16(base, qp, q.numel());
                qp = base;
            } else if (q.bf16 && qp % 16 != 0) throw new IllegalArgumentException("attention: bf16 q " + q + " is not 16-B aligned");
            if (!k.bf16) {
                toBf16(base + qb, kp, k.numel());
                kp = base + qb;
            } else if (kp % 16 != 0) throw new IllegalArgumentException("attention: bf16 k " + k + " is not 16-B aligned");
            if (!v.bf16) {
                toBf16(base + qb + kb, vp, v.numel());
                vp = base + qb + kb;
            } else if (vp % 16 != 0) throw new IllegalArgumentException("attention: bf16 v " + v + " is not 16-B aligned");
        }
        int kvEnd = Math.min(Sk, spec.validKeys());
        float scaleLog2 = spec.scale() * ElementwiseKernels.LOG2E;
        launch(m, (Sq + c.br() - 1) / c.br(), spec.heads(), c.chunks(), c.threads(), c.smemBytes(),
                out.ptr(), qp, kp, vp, Sq, q.cols(), k.cols(), out.cols(),
                spec.heads() / spec.kvHeads(), kvEnd, spec.causal() ? 1 : 0, scaleLog2);
    }

    // ------------------------------------------------------------------ norms

    /** A row kernel; the vec4 variant when the columns come in quads and every pointer argument is 16-B aligned. */
    private void rowwise(RowKernels.Kind kind, long rows, int cols, Object... args) {
        rowwise(kind, false, rows, cols, args);
    }

    /** {@link #rowwise}; with {@code bf16Out} the output (first argument) is a bf16 operand. */
    private void rowwise(RowKernels.Kind kind, boolean bf16Out, long rows, int cols, Object... args) {
        boolean vec4 = cols % 4 == 0;
        for (Object o : args) if (o instanceof Long p && p % 16 != 0) vec4 = false;
        if (bf16Out && (Long) args[0] % 8 != 0) vec4 = false; // bf16 quads are 8-B stores
        boolean v4 = vec4;
        CudaContext.LoadedModule m = kernel(RowKernels.entry(kind, v4, bf16Out), 0, () -> RowKernels.generate(kind, v4, bf16Out));
        launch(m, (int) ((rows + RowKernels.WARPS - 1) / RowKernels.WARPS), 1, 1, RowKernels.BLOCK, 0, args);
    }

    @Override
    public void rmsNorm(Tensor yT, Tensor xT, Weight wt, Tensor scale, float eps) {
        enter();
        CudaTensor y = operand(yT), x = t(xT);
        CudaWeight wc = w(wt);
        requireShape("rmsNorm", y.numel() == x.numel() && y.cols() == x.cols() && wc.numel() == x.cols() && wc.f32
                && (scale == null || scale.numel() == x.cols()), "y", y.shape, "x", x.shape, "w", wc.shape, "scale", scale == null ? "null" : scale.shape());
        rowwise(RowKernels.Kind.RMS_NORM, y.bf16, x.rows(), x.cols(), y.ptr(), x.ptr(), wc.ptr(), ptrOrZero(scale), x.rows(), x.cols(), eps);
    }

    @Override
    public void layerNorm(Tensor yT, Tensor xT, Tensor scale, float eps) {
        enter();
        CudaTensor y = operand(yT), x = t(xT);
        requireShape("layerNorm", y.numel() == x.numel() && y.cols() == x.cols() && (scale == null || scale.numel() == x.cols()),
                "y", y.shape, "x", x.shape, "scale", scale == null ? "null" : scale.shape());
        rowwise(RowKernels.Kind.LAYER_NORM, y.bf16, x.rows(), x.cols(), y.ptr(), x.ptr(), ptrOrZero(scale), x.rows(), x.cols(), eps);
    }

    @Override
    public void gatedResidualRmsNorm(Tensor xT, Tensor hT, Weight wt, Tensor gate, float eps) {
        enter();
        CudaTensor x = t(xT), h = t(hT);
        CudaWeight wc = w(wt);
        requireShape("gatedResidualRmsNorm", x.numel() == h.numel() && x.cols() == h.cols() && wc.numel() == x.cols() && wc.f32
                && (gate == null || gate.numel() == x.cols()), "x", x.shape, "h", h.shape, "w", wc.shape, "gate", gate == null ? "null" : gate.shape());
        rowwise(RowKernels.Kind.GATED_RESIDUAL, x.rows(), x.cols(), x.ptr(), h.ptr(), wc.ptr(), ptrOrZero(gate), x.rows(), x.cols(), eps);
    }

    @Override
    public void groupNorm(Tensor yT, Tensor xT, int groups, Weight gamma, Weight beta, float eps, boolean silu) {
        enter();
        CudaTensor y = t(yT), x = t(xT);
        int C = x.shape[0];
        long hw = x.numel() / C;
        requireShape("groupNorm", y.numel() == x.numel() && groups > 0 && C % groups == 0 && w(gamma).numel() == C && w(beta).numel() == C,
                "y", y.shape, "x", x.shape, "groups", groups, "gamma", gamma.shape(), "beta", beta.shape());
        long n = (long) (C / groups) * hw;
        // quads: every span of a group starts 16-B aligned, so partial sums and the apply move 16 B per access
        boolean vec4 = hw % 4 == 0 && x.ptr() % 16 == 0 && y.ptr() % 16 == 0;
        int splits = (int) Math.max(1, Math.min(1024, (n + GN_CHUNK - 1) / GN_CHUNK));
        int chunk = (int) ((n + splits - 1) / splits);
        if (vec4) chunk = (chunk + 3) & ~3;
        long part = scratch(4L * (3L * groups * splits + 2L * groups)), stats = part + 12L * groups * splits;
        launch(kernel(vec4 ? "group_norm_partial_vec4" : "group_norm_partial", 0, () -> RowKernels.groupNormPartial(vec4)), splits, groups, 1,
                RowKernels.BLOCK, 0, x.ptr(), part, C, (int) hw, groups, chunk);
        launch(kernel("group_norm_finalize", 0, RowKernels::groupNormFinalize), 1, 1, 1, 256, 0, part, stats, splits, groups, eps);
        if (vec4) {
            long quads = hw / 4;
            int gx = (int) Math.max(1, Math.min((quads + 255) / 256, Math.max(1, 132L * 16 * 4 / C)));
            launch(kernel("group_norm_apply_vec4", 0, RowKernels::groupNormApplyVec4), gx, C, 1, 256, 0,
                    y.ptr(), x.ptr(), w(gamma).ptr(), w(beta).ptr(), stats, C, (int) hw, groups, silu ? 1 : 0);
        } else {
            elementwise("group_norm_apply", RowKernels::groupNormApply, x.numel(), y.ptr(), x.ptr(), w(gamma).ptr(), w(beta).ptr(), stats,
                    C, (int) hw, groups, silu ? 1 : 0);
        }
    }

    /**
     * Largest bf16 patch matrix a convolution builds in scratch (the VAE's 256-channel 3×3 convs at 1024²: 4.8 GB);
     * larger ones fall back to the implicit GEMM, which gathers A from the image itself.
     */
    private static final long IM2COL_MAX_BYTES = 6L << 30; // element offsets stay below 2³²

    /**
     * The conv patch matrix through shared-memory tiles ({@link ElementwiseKernels#im2colTiled}, coalesced reads and
     * whole-line writes) unless {@code -Dzimage.cuda.im2col=chunk} selects the one-pass kernel ({@link ElementwiseKernels#im2col}):
     * the switch lets one device run compare the two.
     */
    private static final boolean IM2COL_TILED = !"chunk".equals(System.getProperty("zimage.cuda.im2col", "tiled"));

    /** Elements per block in GroupNorm's partial reduction. */
    private static final long GN_CHUNK = 16384;

    @Override
    public void softmax(Tensor xT) {
        enter();
        CudaTensor x = t(xT);
        rowwise(RowKernels.Kind.SOFTMAX, x.rows(), x.cols(), x.ptr(), x.rows(), x.cols());
    }

    // ------------------------------------------------------------------ positional

    @Override
    public void rope(Tensor xT, Tensor cosT, Tensor sinT, int heads, Rope layout) {
        enter();
        CudaTensor x = t(xT), c = t(cosT), s = t(sinT);
        int S = x.rows(), D = heads > 0 ? x.cols() / heads : 0;
        requireShape("rope", heads > 0 && D * heads == x.cols() && D % 2 == 0 && c.rows() == S && c.cols() == D / 2 && s.rows() == S && s.cols() == D / 2,
                "x", x.shape, "heads", heads, "cos", c.shape, "sin", s.shape);
        String entry = "rope_" + layout.name().toLowerCase();
        elementwise(entry, () -> ElementwiseKernels.rope(layout), (long) S * heads * D / 2, x.ptr(), c.ptr(), s.ptr(), S, heads, D);
    }

    /** One kernel: per-head RMSNorm and RoPE, writing f32 or the bf16 operand the attention kernel reads. */
    @Override
    public void rmsNormRope(Tensor yT, Tensor xT, Weight wt, Tensor cosT, Tensor sinT, int heads, Rope layout, float eps) {
        enter();
        CudaTensor y = operand(yT), x = t(xT), c = t(cosT), s = t(sinT);
        CudaWeight wc = w(wt);
        int S = x.rows(), D = heads > 0 ? x.cols() / heads : 0;
        requireShape("rmsNormRope", heads > 0 && D * heads == x.cols() && D % 2 == 0 && y.numel() == x.numel() && y.cols() == x.cols()
                        && wc.numel() == D && wc.f32 && c.rows() == S && c.cols() == D / 2 && s.rows() == S && s.cols() == D / 2,
                "y", y.shape, "x", x.shape, "heads", heads, "w", wc.shape, "cos", c.shape, "sin", s.shape);
        if (layout == Rope.INTERLEAVED && (x.ptr() % 8 != 0 || wc.ptr() % 8 != 0 || (!y.bf16 && y.ptr() % 8 != 0)))
            throw new IllegalArgumentException("rmsNormRope: interleaved pairs need 8-B aligned x, y and w");
        boolean bf16 = y.bf16;
        CudaContext.LoadedModule m = kernel(RowKernels.rmsNormRopeEntry(layout, bf16), 0, () -> RowKernels.rmsNormRope(layout, bf16));
        long rows = (long) S * heads;
        launch(m, (int) ((rows + RowKernels.WARPS - 1) / RowKernels.WARPS), 1, 1, RowKernels.BLOCK, 0,
                y.ptr(), x.ptr(), wc.ptr(), c.ptr(), s.ptr(), (int) rows, D, heads, eps);
    }

    @Override
    public void timestepEmbedding(Tensor yT, Tensor tT, float tScale, float maxPeriod) {
        enter();
        CudaTensor y = t(yT), tt = t(tT);
        int dim = (int) y.numel();
        requireShape("timestepEmbedding", dim % 2 == 0 && tt.numel() == 1, "y", y.shape, "t", tt.shape);
        elementwise("timestep_embedding", ElementwiseKernels::timestep, dim / 2, y.ptr(), tt.ptr(), dim, tScale, (float) Math.log(maxPeriod));
    }

    // ------------------------------------------------------------------ elementwise

    private void arith(ElementwiseKernels.Arith op, CudaTensor y, CudaTensor a, CudaTensor b, float alpha, float beta) {
        String entry = "arith_" + op.name().toLowerCase();
        elementwise(entry, () -> ElementwiseKernels.arith(op), y.numel(), y.ptr(), a.ptr(), b == null ? 0L : b.ptr(), (int) y.numel(), alpha, beta);
    }

    @Override
    public void silu(Tensor y, Tensor x) {
        enter();
        requireShape("silu", y.numel() == x.numel(), "y", y.shape(), "x", x.shape());
        arith(ElementwiseKernels.Arith.SILU, t(y), t(x), null, 0, 0);
    }

    @Override
    public void add(Tensor y, Tensor a, Tensor b) {
        enter();
        requireShape("add", y.numel() == a.numel() && a.numel() == b.numel(), "y", y.shape(), "a", a.shape(), "b", b.shape());
        arith(ElementwiseKernels.Arith.ADD, t(y), t(a), t(b), 0, 0);
    }

    @Override
    public void axpy(Tensor y, float alpha, Tensor x) {
        enter();
        requireShape("axpy", y.numel() == x.numel(), "y", y.shape(), "x", x.shape());
        arith(ElementwiseKernels.Arith.AXPY, t(y), t(x), null, alpha, 0);
    }

    @Override
    public void axpy(Tensor y, Tensor alpha, Tensor x) {
        enter();
        requireShape("axpy", y.numel() == x.numel() && alpha.numel() == 1, "y", y.shape(), "alpha", alpha.shape(), "x", x.shape());
        arith(ElementwiseKernels.Arith.AXPY_BY, t(y), t(x), t(alpha), 0, 0);
    }

    @Override
    public void scale(Tensor y, Tensor x, float alpha, float beta) {
        enter();
        requireShape("scale", y.numel() == x.numel(), "y", y.shape(), "x", x.shape());
        arith(ElementwiseKernels.Arith.SCALE, t(y), t(x), null, alpha, beta);
    }

    // ------------------------------------------------------------------ convolution and images

    @Override
    public void conv2d(Tensor yT, Tensor xT, Weight wt, Weight bias, Conv2dSpec s) {
        enter();
        CudaTensor y = t(yT), x = t(xT);
        CudaWeight wc = w(wt);
        int ho = s.outHeight(), wo = s.outWidth();
        int K = s.inChannels() * s.kernel() * s.kernel();
        requireShape("conv2d", x.numel() == (long) s.inChannels() * s.height() * s.width() && y.numel() == (long) s.outChannels() * ho * wo
                        && wc.numel() == (long) s.outChannels() * K && !wc.f32 && (bias == null || w(bias).numel() == s.outChannels()),
                "y", y.shape, "x", x.shape, "w", wc.shape, s);
        boolean vec = K % 8 == 0;
        int M = ho * wo, N = s.outChannels();
        long patchBytes = 2L * M * K;
        if (useWgmma && vec && wc.ptr() % 16 == 0 && patchBytes <= IM2COL_MAX_BYTES) {
            // explicit patch matrix in bf16, then the wgmma GEMM with the weight as A: y[C_out, HW] = W · patchesᵀ is CHW as stored
            long patches = scratch(patchBytes);
            if (IM2COL_TILED) {
                int[] l = ElementwiseKernels.im2colTiledLaunch(M, K, cu.smCount()); // {grid, nKc, nTiles}
                launch(kernel("im2col_tiled_bf16", 0, ElementwiseKernels::im2colTiled), l[0], 1, 1, ElementwiseKernels.IM2COL_THREADS, 0,
                        patches, x.ptr(), l[1], l[2], M, K, s.height(), s.width(), s.kernel(), s.stride(), s.padTop(), s.padLeft(), wo);
            } else {
                int chunk = K % 64 == 0 ? 64 : K % 16 == 0 ? 16 : 8;
                long units = (long) M * (K / chunk);
                elementwise("im2col_bf16_" + chunk, () -> ElementwiseKernels.im2col(chunk), units, patches, x.ptr(), (int) units, M, K,
                        s.height(), s.width(), s.kernel(), s.stride(), s.padTop(), s.padLeft(), wo);
            }
            GemmKernel.Config g = GemmKernel.wgmmaConfig(Epilogue.STORE);
            CudaContext.LoadedModule gm = kernel(g.entry(), g.dynamicSmem(), () -> GemmKernel.generate(g));
            launch(gm, g.gridX(N, M, cu.smCount()), g.gridY(N, M), 1, g.threads(), g.dynamicSmem(), // GEMM M = C_out, N = pixels
                    y.ptr(), wc.ptr(), patches, 0L, 0L, N, M, K, 0, 0, 0, 0, 0, 0, 0, 1);
            if (bias != null) {
                boolean v4 = M % 4 == 0 && y.ptr() % 16 == 0;
                int gx = (int) Math.max(1, Math.min(((v4 ? M / 4 : M) + 255L) / 256, Math.max(1, 132L * 16 * 4 / N)));
                launch(kernel(v4 ? "bias_rows_vec4" : "bias_rows", 0, () -> ElementwiseKernels.biasRows(v4)), gx, N, 1, 256, 0,
                        y.ptr(), w(bias).ptr(), N, M);
            }
            return;
        }
        GemmKernel.Config c = GemmKernel.config(ASource.IM2COL, false, Epilogue.STORE_TRANSPOSED, vec);
        CudaContext.LoadedModule m = kernel(c.entry(), 0, () -> GemmKernel.generate(c));
        launch(m, (N + c.bn() - 1) / c.bn(), (M + c.bm() - 1) / c.bm(), 1, c.threads(), 0,
                y.ptr(), x.ptr(), wc.ptr(), 0L, ptrOrZero(bias), M, N, K,
                s.inChannels(), s.height(), s.width(), s.kernel(), s.stride(), s.padTop(), s.padLeft(), wo);
    }

    @Override
    public void transpose(Tensor yT, Tensor xT) {
        enter();
        CudaTensor y = t(yT), x = t(xT);
        int R = x.rows(), C = x.cols();
        requireShape("transpose", y.rows() == C && y.cols() == R, "y", y.shape, "x", x.shape);
        elementwise("transpose", ElementwiseKernels::transpose, (long) R * C, y.ptr(), x.ptr(), R, C);
    }

    @Override
    public void upsampleNearest2x(Tensor yT, Tensor xT, int channels, int height, int width) {
        enter();
        CudaTensor y = t(yT), x = t(xT);
        long n = (long) channels * height * width;
        requireShape("upsampleNearest2x", x.numel() == n && y.numel() == 4 * n, "y", y.shape, "x", x.shape, channels, height, width);
        if (width % 4 == 0 && x.ptr() % 16 == 0 && y.ptr() % 16 == 0)
            elementwise("upsample_nearest2x_vec4", ElementwiseKernels::upsample2xVec4, n / 4, y.ptr(), x.ptr(), channels * height, width);
        else
            elementwise("upsample_nearest2x", ElementwiseKernels::upsample2x, 4 * n, y.ptr(), x.ptr(), channels, height, width);
    }

    private void patch(boolean inverse, Tensor yT, Tensor xT, int channels, int height, int width, int patch) {
        enter();
        CudaTensor y = t(yT), x = t(xT);
        long n = (long) channels * height * width;
        String op = inverse ? "unpatchify" : "patchify";
        requireShape(op, patch > 0 && height % patch == 0 && width % patch == 0 && x.numel() == n && y.numel() == n
                && (inverse ? x.cols() : y.cols()) == patch * patch * channels, "y", y.shape, "x", x.shape, channels, height, width, patch);
        elementwise(op, () -> ElementwiseKernels.patchify(inverse), n, y.ptr(), x.ptr(), channels, height, width, patch);
    }

    @Override
    public void patchify(Tensor y, Tensor x, int channels, int height, int width, int patch) {
        patch(false, y, x, channels, height, width, patch);
    }

    @Override
    public void unpatchify(Tensor y, Tensor x, int channels, int height, int width, int patch) {
        patch(true, y, x, channels, height, width, patch);
    }

    @Override
    public void close() {
        if (closed) return;
        cu.makeCurrent();
        cu.synchronize();
        graphs.values().forEach(cu::graphDestroy);
        eventPool.forEach(cu::eventDestroy);
        for (MemorySegment e : fenceEvents) if (e != null) cu.eventDestroy(e);
        graphs.clear();
        if (staging != null) cu.freeHost(staging);
        if (uploadRing != null) {
            for (MemorySegment m : uploadRing) cu.freeHost(m);
            for (MemorySegment e : uploadDone) cu.eventDestroy(e);
        }
        if (idsDevice != 0) cu.free(idsDevice);
        if (scratch != 0) cu.free(scratch);
        retiredScratch.forEach(cu::free);
        closed = true;
        cu.close();
    }
}
