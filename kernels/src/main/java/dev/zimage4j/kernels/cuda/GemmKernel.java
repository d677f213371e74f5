package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.ptx.Ptx;
import dev.zimage4j.kernels.ptx.PtxType;
import dev.zimage4j.kernels.ptx.Reg;

import java.util.ArrayList;
import java.util.List;

import static dev.zimage4j.kernels.ptx.Ptx.at;
import static dev.zimage4j.kernels.ptx.Ptx.vec;

/**
 * The one GEMM generator: {@code y[M,N] (+)= A[M,K] · B[N,K]ᵀ (+ bias[N])} on tensor cores (bf16 × bf16 → f32),
 * every variant (pipeline, tile shape, operand source, epilogue) generated from one {@link Config}. Three pipelines:
 * on Hopper, {@code wgmma} fed by TMA from a producer warpgroup ({@link #generateTma}: the default for bf16 operands),
 * or fed by {@code cp.async} from all threads ({@link #generateWgmma}); elsewhere, and for f32 or gathered operands,
 * {@code mma.sync.m16n8k16}, described next.
 *
 * <p>Design of the mma.sync path (docs/cuda-notes §6, §9 "mma.sync fallback"): a CTA computes a {@code bm × bn} tile with
 * {@code warpsM × warpsN} warps, K in steps of {@code bk}. When both operands are bf16 (weights, and
 * activations converted once by the caller) every tile arrives by {@code cp.async} into a 3-stage ring
 * of dynamic shared memory, two tiles in flight while one is multiplied. Otherwise two stages: while the
 * warps multiply one, the next k-tile is fetched — bf16 weights with {@code cp.async} straight into the
 * other stage, f32 or gathered activations into registers (converted to bf16 and stored after the multiply).
 * Fragments come from {@code ldmatrix.x4}; shared rows are padded by 16 B so the 8 rows of an
 * {@code ldmatrix} phase hit 8 different bank groups.
 *
 * <p>Operands: A is f32 activations, dense {@code [M][K]} or gathered on the fly from a CHW image
 * (implicit-GEMM convolution: M = output pixels, K = C_in·k·k); B is bf16 (weights) or f32
 * (activation × activationᵀ). Epilogues: plain store, residual add, SwiGLU over two weights
 * (dual accumulators), optional bias (a runtime null check), and a transposed store (conv output CHW); y is f32, or
 * for store and SwiGLU a bf16 matrix operand ({@link Config#yBf16}) that the next GEMM or attention reads as it is.
 */
final class GemmKernel {

    private GemmKernel() {
    }

    /** Where A comes from. */
    enum ASource {
        /** f32 activations {@code [M][K]}, through registers (converted to bf16 on the way to shared memory). */
        DENSE,
        /** bf16 activations {@code [M][K]} (converted once by the caller), by {@code cp.async} like the weights. */
        BF16,
        /** gathered from an f32 CHW image: implicit-GEMM convolution. */
        IM2COL
    }

    /** What the epilogue does with the f32 accumulator. */
    enum Epilogue {
        /** y = acc (+bias). */
        STORE,
        /** y += acc (+bias). */
        ADD,
        /** y = silu(acc_gate) · acc_up (two weights). */
        SWIGLU,
        /** y[n][m] = acc (+bias): the conv output in CHW. */
        STORE_TRANSPOSED
    }

    /**
     * One GEMM variant.
     *
     * @param bm      CTA rows
     * @param bn      CTA columns
     * @param warpsM  warps along M
     * @param warpsN  warps along N
     * @param a       A source
     * @param bF32    B is f32 (else bf16)
     * @param epi     epilogue
     * @param vec     16-byte vector loads (needs K % 8 == 0 and 16-B aligned operands; IM2COL is always scalar for A)
     * @param bk      K per shared-memory stage (32, or 64 for the all-cp.async pipeline)
     * @param stages  shared-memory stages (2 for register-staged operands; 2–4 when every operand is fetched by cp.async)
     * @param wgmma   Hopper {@code wgmma} (sm_90a) instead of {@code mma.sync}
     * @param tma     operands by TMA into an mbarrier ring fed by a producer warpgroup ({@link #generateTma})
     * @param persistent at most one CTA per SM, looping over tiles (TMA only)
     * @param cluster CTAs per thread-block cluster along M (1, or 2: the pair shares the B tile, each half loaded once
     *                and multicast to both; persistent TMA only)
     * @param yBf16   y is a bf16 matrix operand ({@code Backend.allocOperand}): the epilogue rounds to bf16 (round to nearest
     *                even, as the conversion pass it replaces) and stores 2-byte elements; STORE and SWIGLU only
     */
    record Config(int bm, int bn, int warpsM, int warpsN, ASource a, boolean bF32, Epilogue epi, boolean vec, int bk, int stages,
                  boolean wgmma, boolean tma, boolean persistent, int cluster, boolean yBf16) {
        /** A variant with an f32 output. */
        Config(int bm, int bn, int warpsM, int warpsN, ASource a, boolean bF32, Epilogue epi, boolean vec, int bk, int stages,
               boolean wgmma, boolean tma, boolean persistent, int cluster) {
            this(bm, bn, warpsM, warpsN, a, bF32, epi, vec, bk, stages, wgmma, tma, persistent, cluster, false);
        }

        /** An {@code mma.sync} variant. */
        Config(int bm, int bn, int warpsM, int warpsN, ASource a, boolean bF32, Epilogue epi, boolean vec, int bk, int stages) {
            this(bm, bn, warpsM, warpsN, a, bF32, epi, vec, bk, stages, false, false, false, 1, false);
        }

        /** A wgmma variant fed by {@code cp.async} from every thread ({@code wgmma}) or an mma.sync one. */
        Config(int bm, int bn, int warpsM, int warpsN, ASource a, boolean bF32, Epilogue epi, boolean vec, int bk, int stages, boolean wgmma) {
            this(bm, bn, warpsM, warpsN, a, bF32, epi, vec, bk, stages, wgmma, false, false, 1, false);
        }

        Config {
            if (wgmma && (a != ASource.BF16 || bF32 || bm != 128 || warpsM != 8 || warpsN != 1 || bk != 64 || bn % 8 != 0 || bn > 256
                    || epi == Epilogue.STORE_TRANSPOSED || stages < (tma ? 2 : 3)))
                throw new IllegalArgumentException("wgmma variants: bf16 operands, 128 rows over 2 warpgroups, bk 64 (one 128-B swizzle row), n ≤ 256, ≥ 3 stages");
            if (tma && !wgmma) throw new IllegalArgumentException("TMA loads feed the wgmma path only");
            if (persistent && !tma) throw new IllegalArgumentException("the persistent tile loop is a TMA variant");
            if (cluster != 1 && (cluster != 2 || !persistent || (bn / 2) % 8 != 0))
                throw new IllegalArgumentException("clusters: 2 CTAs, persistent TMA, B half-tiles of a multiple of 8 rows (1-KiB swizzle atoms); got "
                        + cluster + ", bn " + bn);
            if (tma && bn * (epi == Epilogue.SWIGLU ? 2 : 1) > 256)
                throw new IllegalArgumentException("TMA variants hold at most 128 accumulators per consumer thread (bn·sets ≤ 256)");
            if (!wgmma && (bm % (16 * warpsM) != 0 || bn % (16 * warpsN) != 0))
                throw new IllegalArgumentException("tile " + bm + "x" + bn + " does not split into " + warpsM + "x" + warpsN + " warps of 16-multiples");
            if (epi == Epilogue.SWIGLU && bF32) throw new IllegalArgumentException("SwiGLU takes bf16 weights");
            if (a == ASource.BF16 && !vec) throw new IllegalArgumentException("bf16 A needs vector (cp.async) loads");
            boolean async = a == ASource.BF16 && !bF32;
            if (!async && (bk != 32 || stages != 2)) throw new IllegalArgumentException("register-staged operands use bk 32 and 2 stages");
            if (bk % 16 != 0 || stages < 2) throw new IllegalArgumentException("bk " + bk + " / stages " + stages);
            if (yBf16 && epi != Epilogue.STORE && epi != Epilogue.SWIGLU)
                throw new IllegalArgumentException("a bf16 output is written by the STORE and SWIGLU epilogues only (" + epi + " reads or transposes y)");
        }

        /** This variant with a bf16 ({@code true}) or f32 output. */
        Config withYBf16(boolean bf16) {
            return new Config(bm, bn, warpsM, warpsN, a, bF32, epi, vec, bk, stages, wgmma, tma, persistent, cluster, bf16);
        }

        /** Bytes of one output element. */
        int yBytes() {
            return yBf16 ? 2 : 4;
        }

        /** Every operand arrives by cp.async: the multi-stage pipeline with dynamic shared memory. */
        boolean async() {
            return a == ASource.BF16 && !bF32;
        }

        /** Shared row stride in bytes: bk bf16 plus 16 B of padding (conflict-free ldmatrix phases); wgmma: 128 B, swizzled. */
        int srow() {
            return wgmma ? 128 : (bk + 8) * 2;
        }

        /**
         * Dynamic shared memory for the async pipeline (0 for the static 2-stage variants); wgmma adds 1 KB to align the ring
         * to 1024 B, TMA two mbarriers (full, empty) per stage after the ring.
         */
        int dynamicSmem() {
            return async() ? stages * stageBytes() + (wgmma ? 1024 : 0) + (tma ? 16 * stages : 0) : 0;
        }

        /** Work units of an {@code M × N} product: clusters of {@code cluster} tiles stacked along M (a pair's second tile may lie past M). */
        int units(int M, int N) {
            return ((N + bn - 1) / bn) * ((M + bm * cluster - 1) / (bm * cluster));
        }

        /** Output tiles of an {@code M × N} product. */
        int tiles(int M, int N) {
            return ((N + bn - 1) / bn) * ((M + bm - 1) / bm);
        }

        /**
         * Grid x: TMA variants run a 1-D grid over all tiles (grouped raster order, {@link #RASTER_GROUP}), persistent ones
         * at most one CTA per SM, each looping over tiles; the others one column of tiles per x.
         */
        int gridX(int M, int N, int sms) {
            if (persistent) return cluster * Math.min(units(M, N), sms / cluster);
            return tma ? tiles(M, N) : (N + bn - 1) / bn;
        }

        /** Grid y (1 for TMA variants). */
        int gridY(int M, int N) {
            return tma ? 1 : (M + bm - 1) / bm;
        }

        /** The PTX target: wgmma exists only on {@code sm_90a}. */
        String target() {
            return wgmma ? "sm_90a" : Ptx.TARGET;
        }

        /** Threads per CTA: the MMA warps, plus one producer warpgroup for TMA variants. */
        int threads() {
            return 32 * warpsM * warpsN + (tma ? 128 : 0);
        }

        boolean dual() {
            return epi == Epilogue.SWIGLU;
        }

        String entry() {
            return (cluster > 1 ? "tmac" + cluster + "_wgmma_" : persistent ? "tmap_wgmma_" : tma ? "tma_wgmma_" : wgmma ? "wgmma_" : "gemm_") + bm + "x" + bn + "x" + bk + "_s" + stages + "_w" + warpsM + "x" + warpsN + "_" + a.name().toLowerCase() + "_b"
                    + (bF32 ? "f32" : "bf16") + "_" + epi.name().toLowerCase() + (vec ? "_vec" : "_scalar") + (yBf16 ? "_ybf16" : "");
        }

        int stageBytes() {
            return (bm + bn * (dual() ? 2 : 1)) * srow();
        }
    }

    /**
     * The standard variants: 128×128 (8 warps, 64×32 per warp), SwiGLU 128×64 with two accumulator sets;
     * bf16 A: bk 64, 3 stages (110 KB: two CTAs per SM); otherwise bk 32, 2 static stages.
     */
    static Config config(ASource a, boolean bF32, Epilogue epi, boolean vec) {
        int bn = epi == Epilogue.SWIGLU ? 64 : 128;
        boolean async = a == ASource.BF16 && !bF32;
        return new Config(128, bn, 2, 4, a, bF32, epi, vec, async ? 64 : 32, async ? 3 : 2);
    }

    /**
     * Tile shapes for the all-bf16 pipeline that the benchmark sweeps (scripts/gpu-run.sh): warp tiles of
     * 64×32 and 64×64, bk 32/64, 3–4 stages, 1–2 CTAs per SM by shared memory.
     */
    static List<Config> candidates(Epilogue epi) {
        ASource a = ASource.BF16;
        if (epi == Epilogue.SWIGLU)
            return List.of(new Config(128, 64, 2, 4, a, false, epi, true, 64, 3), new Config(128, 64, 2, 2, a, false, epi, true, 32, 4),
                    new Config(128, 64, 2, 4, a, false, epi, true, 32, 4), new Config(256, 64, 4, 2, a, false, epi, true, 32, 4));
        return List.of(new Config(128, 128, 2, 4, a, false, epi, true, 64, 3), new Config(128, 128, 2, 2, a, false, epi, true, 32, 4),
                new Config(128, 128, 2, 2, a, false, epi, true, 64, 3), new Config(128, 256, 2, 4, a, false, epi, true, 32, 4),
                new Config(256, 128, 4, 2, a, false, epi, true, 32, 4), new Config(128, 128, 2, 4, a, false, epi, true, 32, 4),
                new Config(128, 256, 2, 4, a, false, epi, true, 64, 3));
    }

    /** The Hopper (sm_90a) variants: {@code wgmma m64nNk16} from 128-B-swizzled shared memory, 2 warpgroups × 64 rows. */
    static List<Config> wgmmaCandidates(Epilogue epi) {
        ASource a = ASource.BF16;
        if (epi == Epilogue.SWIGLU)
            return List.of(new Config(128, 128, 8, 1, a, false, epi, true, 64, 4, true), new Config(128, 64, 8, 1, a, false, epi, true, 64, 4, true));
        // (128×256 would hold 128 accumulators per thread and spills in the epilogue: not offered)
        // first = default: 6 stages measured best on the H200 (436–476 TFLOP/s vs 396–458 at 4, 256–275 at 3)
        return List.of(new Config(128, 128, 8, 1, a, false, epi, true, 64, 6, true), new Config(128, 128, 8, 1, a, false, epi, true, 64, 5, true),
                new Config(128, 128, 8, 1, a, false, epi, true, 64, 4, true), new Config(128, 128, 8, 1, a, false, epi, true, 64, 3, true),
                new Config(128, 64, 8, 1, a, false, epi, true, 64, 6, true));
    }

    /** The default wgmma variant for an epilogue (used on compute capability 9.0 when the TMA path does not apply). */
    static Config wgmmaConfig(Epilogue epi) {
        return wgmmaCandidates(epi).getFirst();
    }

    /**
     * The warp-specialised TMA variants ({@link #generateTma}): 2 consumer warpgroups × 64 rows, bn·sets ≤ 256 accumulator
     * columns per thread, persistent, as deep a ring as fits. The widths between 128 and 256 exist for wave
     * quantisation (e.g. M = 1088, N = 3840: 144 gives 243 tiles = 1.8 waves on 132 SMs, 192 gives 180 = 1.4 → 2 waves
     * of a larger tile); 32 and 64 for small M (few tiles). {@link #tmaConfig} picks one per shape.
     */
    static List<Config> tmaCandidates(Epilogue epi) {
        List<Config> out = new ArrayList<>();
        for (int bn : epi == Epilogue.SWIGLU ? new int[]{128, 120, 96, 64, 32} : new int[]{256, 192, 160, 144, 128, 64, 32})
            out.add(tma(bn, epi, true));
        return out;
    }

    /** The non-persistent counterparts (one CTA per tile), kept for the benchmark's comparison. */
    static List<Config> tmaOneShotCandidates(Epilogue epi) {
        return epi == Epilogue.SWIGLU ? List.of(tma(128, epi, false)) : List.of(tma(256, epi, false), tma(192, epi, false));
    }

    /** A TMA variant of width bn with the deepest ring (≤ 8 stages) that fits the opt-in shared memory. */
    static Config tma(int bn, Epilogue epi, boolean persistent) {
        return tma(bn, epi, persistent, 1);
    }

    private static Config tma(int bn, Epilogue epi, boolean persistent, int cluster) {
        int stageBytes = (128 + bn * (epi == Epilogue.SWIGLU ? 2 : 1)) * 128;
        int stages = Math.min(8, (SMEM_OPTIN - 1024) / (stageBytes + 16));
        return new Config(128, bn, 8, 1, ASource.BF16, false, epi, true, 64, stages, true, true, persistent, cluster);
    }

    /** The 2-CTA cluster variants (B tile multicast; widths whose half is a multiple of 8 rows). */
    static List<Config> tmaClusterCandidates(Epilogue epi) {
        List<Config> out = new ArrayList<>();
        for (int bn : epi == Epilogue.SWIGLU ? new int[]{128, 96, 64} : new int[]{256, 192, 160, 144, 128})
            out.add(tma(bn, epi, true, 2));
        return out;
    }

    /** Dynamic shared memory a block may opt into on sm_90 (227 KiB). */
    static final int SMEM_OPTIN = 232_448;

    /**
     * The TMA variant for an {@code M × N} output on {@code sms} SMs (one CTA per SM): the candidate with the least
     * wave-quantised work, {@code ceil(tiles / sms) · (bn·sets + 32)} (the 32 stands for the per-tile cost that does not
     * shrink with bn: the A tile, prologue, epilogue); ties go to the earlier candidate.
     */
    static Config tmaConfig(Epilogue epi, int M, int N, int sms) {
        return cheapest(tmaCandidates(epi), M, N, sms);
    }

    /** {@link #tmaConfig} among the 2-CTA cluster variants (a pair counts as two tiles, padding included). */
    static Config tmaClusterConfig(Epilogue epi, int M, int N, int sms) {
        return cheapest(tmaClusterCandidates(epi), M, N, sms);
    }

    private static Config cheapest(List<Config> candidates, int M, int N, int sms) {
        Config best = null;
        long bestCost = Long.MAX_VALUE;
        for (Config c : candidates) {
            long tiles = (long) c.units(M, N) * c.cluster(), waves = (tiles + sms - 1) / sms;
            long cost = waves * (c.bn() * (c.dual() ? 2 : 1) + 32);
            if (cost < bestCost) {
                best = c;
                bestCost = cost;
            }
        }
        return best;
    }

    /** All variants the backend can ask for (for dump-ptx and the ptxas test). */
    static List<Config> allConfigs() {
        List<Config> out = new ArrayList<>();
        for (Epilogue e : new Epilogue[]{Epilogue.STORE, Epilogue.ADD, Epilogue.SWIGLU}) {
            for (Config c : tmaCandidates(e)) if (!out.contains(c)) out.add(c);
            for (Config c : tmaOneShotCandidates(e)) if (!out.contains(c)) out.add(c);
            for (Config c : tmaClusterCandidates(e)) if (!out.contains(c)) out.add(c);
            for (Config c : wgmmaCandidates(e)) if (!out.contains(c)) out.add(c);
        }
        for (Epilogue e : new Epilogue[]{Epilogue.STORE, Epilogue.SWIGLU})
            for (Config c : candidates(e)) if (!out.contains(c)) out.add(c);
        for (Epilogue e : new Epilogue[]{Epilogue.STORE, Epilogue.ADD, Epilogue.SWIGLU})
            if (!out.contains(config(ASource.BF16, false, e, true))) out.add(config(ASource.BF16, false, e, true));
        for (boolean vec : new boolean[]{true, false}) {
            for (Epilogue e : new Epilogue[]{Epilogue.STORE, Epilogue.ADD, Epilogue.SWIGLU}) out.add(config(ASource.DENSE, false, e, vec));
            out.add(config(ASource.DENSE, true, Epilogue.STORE, vec));
        }
        out.add(config(ASource.IM2COL, false, Epilogue.STORE_TRANSPOSED, false));
        out.add(config(ASource.IM2COL, false, Epilogue.STORE_TRANSPOSED, true));
        out.addAll(bf16OutputConfigs());
        return out;
    }

    /**
     * The bf16-output variants the backend can choose (a GEMM into an operand tensor: {@code linear}, {@code linearSwiGLU}):
     * the TMA widths (and cluster widths), the cp.async wgmma default, and the mma.sync defaults for bf16 and f32 A (an f32
     * B, a weight of one row, never meets a bf16 y: an operand has a multiple of 8 columns).
     */
    static List<Config> bf16OutputConfigs() {
        List<Config> out = new ArrayList<>();
        for (Epilogue e : new Epilogue[]{Epilogue.STORE, Epilogue.SWIGLU}) {
            List<Config> base = new ArrayList<>(tmaCandidates(e));
            base.addAll(tmaClusterCandidates(e));
            base.add(wgmmaConfig(e));
            base.add(config(ASource.BF16, false, e, true));
            base.add(config(ASource.DENSE, false, e, true));
            base.add(config(ASource.DENSE, false, e, false));
            for (Config c : base) if (!out.contains(c.withYBf16(true))) out.add(c.withYBf16(true));
        }
        return out;
    }

    /**
     * Generates {@code entry(y, a, b, b2, bias, M, N, K, Cin, H, W, ks, stride, padT, padL, Wout)}; the conv
     * geometry is read only by IM2COL variants, {@code b2} only by SwiGLU, {@code bias} may be 0.
     * Launch with grid {@code (ceil(N/bn), ceil(M/bm))} and {@link Config#threads()} threads.
     */
    static Ptx generate(Config c) {
        if (c.tma()) return generateTma(c);
        if (c.wgmma()) return generateWgmma(c);
        Ptx k = new Ptx(c.entry());
        int T = c.threads();
        k.directive(".maxntid " + T + ", 1, 1");
        Reg y = k.paramPtr("y"), a = k.paramPtr("a"), b = k.paramPtr("b"), b2 = k.paramPtr("b2"), bias = k.paramPtr("bias");
        Reg M = k.paramU32("M"), N = k.paramU32("N"), K = k.paramU32("K");
        Reg cin = k.paramU32("Cin"), H = k.paramU32("H"), W = k.paramU32("W"), ks = k.paramU32("ks"),
                stride = k.paramU32("stride"), padT = k.paramU32("padT"), padL = k.paramU32("padL"), wout = k.paramU32("Wout");

        int SROW = c.srow(), BK = c.bk();
        Reg smem = c.async() ? k.dynamicShared("dyn") : k.shared("smem", 2 * c.stageBytes(), 128);
        Reg tid = k.special("%tid.x");
        Reg lane = k.iop("and.b32", tid, 31), warp = k.iop("shr.u32", tid, 5);
        Reg wm = k.iop("rem.u32", warp, c.warpsM()), wn = k.iop("div.u32", warp, c.warpsM());
        Reg m0 = k.iop("mul.lo.s32", k.special("%ctaid.y"), c.bm()), n0 = k.iop("mul.lo.s32", k.special("%ctaid.x"), c.bn());
        int wtm = c.bm() / c.warpsM(), wtn = c.bn() / c.warpsN(), mt = wtm / 16, nt = wtn / 8;
        int bRows = c.bn() * (c.dual() ? 2 : 1);

        // ---------------- loaders: issue(k0, stage) starts the fetch of one k-tile, finish(stage) lands it in smem
        Operand opA = new Operand(k, c, true, c.bm(), T, tid, m0, M, K, a, null, new Reg[]{cin, H, W, ks, stride, padT, padL, wout});
        Operand opB = new Operand(k, c, false, bRows, T, tid, n0, N, K, b, c.dual() ? b2 : null, null);
        opA.smem = smem;
        opB.smem = smem;
        opB.operandOff = c.bm() * SROW;
        for (Operand o : new Operand[]{opA, opB}) if (o.vec && !o.f32) o.prepareAsync();

        Reg nk = k.iop("add.u32", K, BK - 1);
        k.op("div.u32", nk, nk, BK);

        // accumulators
        int sets = c.dual() ? 2 : 1;
        Reg[][][][] acc = new Reg[sets][mt][nt][];
        for (int s = 0; s < sets; s++)
            for (int i = 0; i < mt; i++)
                for (int j = 0; j < nt; j++) {
                    acc[s][i][j] = k.regs(PtxType.F32, 4);
                    for (Reg r : acc[s][i][j]) k.op("mov.f32", r, Ptx.f32(0f));
                }

        // per-lane ldmatrix offsets (bytes inside a stage)
        Reg aLane = k.mad(k.mad(wm, wtm, k.iop("and.b32", lane, 15)), SROW, k.iop("shl.b32", k.iop("shr.u32", lane, 4), 4));
        Reg bRow = k.iop("add.u32", k.mad(wn, wtn, k.iop("and.b32", lane, 7)), k.iop("shl.b32", k.iop("shr.u32", lane, 4), 3));
        Reg bLane = k.mad(bRow, SROW, k.iop("shl.b32", k.iop("and.b32", k.iop("shr.u32", lane, 3), 1), 4));
        Reg aBase = k.iop("add.u32", smem, aLane), bBase = k.iop("add.u32", smem, k.iop("add.u32", bLane, c.bm() * SROW));
        java.util.function.Consumer<Reg> multiply = stageOff -> {
            Reg aSt = k.iop("add.u32", aBase, stageOff), bSt = k.iop("add.u32", bBase, stageOff);
            for (int kk = 0; kk < BK / 16; kk++) {
                Reg[][] af = new Reg[mt][];
                for (int i = 0; i < mt; i++) {
                    af[i] = k.regs(PtxType.B32, 4);
                    k.op("ldmatrix.sync.aligned.m8n8.x4.shared.b16", vec((Object[]) af[i]), at(aSt, (long) i * 16 * SROW + kk * 32));
                }
                for (int s = 0; s < sets; s++) {
                    for (int j = 0; j < nt; j += 2) {
                        Reg[] bf = k.regs(PtxType.B32, 4);
                        long off = ((long) s * c.bn() + j * 8L) * SROW + kk * 32;
                        k.op("ldmatrix.sync.aligned.m8n8.x4.shared.b16", vec((Object[]) bf), at(bSt, off));
                        for (int i = 0; i < mt; i++) {
                            mma(k, acc[s][i][j], af[i], bf[0], bf[1]);
                            mma(k, acc[s][i][j + 1], af[i], bf[2], bf[3]);
                        }
                    }
                }
            }
        };

        Reg kt = k.constU32(0);
        String top = k.newLabel("ktile"), done = k.newLabel("kdone");
        if (c.async()) {
            // multi-stage cp.async pipeline: tiles kt+1 … kt+stages−1 are in flight while tile kt is multiplied;
            // one commit group per tile (empty past the end) keeps wait_group's count exact
            int S = c.stages();
            for (int s = 0; s < S - 1; s++) {
                Reg kS = k.constU32(s * BK);
                Reg off = k.constU32(s * c.stageBytes());
                Reg live = k.setp("lt.u32", k.constU32(s), nk);
                k.ifThen(live, false, () -> {
                    opA.issue(kS, off, false);
                    opB.issue(kS, off, false);
                });
                k.op("cp.async.commit_group");
            }
            Reg readOff = k.constU32(0), writeOff = k.constU32((S - 1) * c.stageBytes());
            Reg kLoad = k.constU32((S - 1) * BK);
            k.label(top);
            k.braIf(k.setp("ge.u32", kt, nk), false, done);
            k.op("cp.async.wait_group", S - 2);
            k.op("bar.sync", 0);
            Reg live = k.setp("lt.u32", k.iop("add.u32", kt, S - 1), nk);
            k.ifThen(live, false, () -> {
                opA.issue(kLoad, writeOff, false);
                opB.issue(kLoad, writeOff, false);
            });
            k.op("cp.async.commit_group");
            multiply.accept(readOff);
            int wrap = S * c.stageBytes();
            for (Reg r : new Reg[]{readOff, writeOff}) {
                k.op("add.u32", r, r, c.stageBytes());
                Reg w = k.setp("ge.u32", r, wrap);
                k.opIf(w, false, "mov.u32", r, 0);
            }
            k.op("add.u32", kLoad, kLoad, BK);
            k.op("add.u32", kt, kt, 1);
            k.bra(top);
            k.label(done);
            k.op("cp.async.wait_all");
        } else {
            // two stages; f32 / gathered operands are staged through registers and stored after the multiply
            Reg stageOff = k.constU32(0);
            Reg k0 = k.constU32(0);
            opA.issue(k0, k.constU32(0), true);
            opB.issue(k0, k.constU32(0), true);
            opA.finish(smem, null, 0);
            opB.finish(smem, null, c.bm() * SROW);
            k.op("cp.async.wait_all");
            k.op("bar.sync", 0);
            k.label(top);
            k.braIf(k.setp("ge.u32", kt, nk), false, done);
            Reg nextOff = k.iop("xor.b32", stageOff, c.stageBytes());
            Reg hasNext = k.setp("lt.u32", k.iop("add.u32", kt, 1), nk);
            Reg kNext = k.iop("add.u32", k0, BK);
            k.ifThen(hasNext, false, () -> {
                opA.issue(kNext, nextOff, true);
                opB.issue(kNext, nextOff, true);
            });
            multiply.accept(stageOff);
            k.ifThen(hasNext, false, () -> {
                opA.finish(smem, nextOff, 0);
                opB.finish(smem, nextOff, c.bm() * SROW);
            });
            k.op("cp.async.wait_all");
            k.op("bar.sync", 0);
            k.op("mov.u32", stageOff, nextOff);
            k.op("mov.u32", k0, kNext);
            k.op("add.u32", kt, kt, 1);
            k.bra(top);
            k.label(done);
        }

        epilogue(k, c, acc, y, bias, M, N, m0, n0, wm, wn, lane, wtm, wtn);
        return k;
    }

    /**
     * The Hopper path (target sm_90a, docs/cuda-notes §7, §9): 2 warpgroups each own 64 rows × bn columns of
     * f32 accumulators and issue {@code wgmma.mma_async m64nNk16} straight from shared memory (A and B
     * K-major, 128-B swizzle, descriptors with SBO 1024). All 256 threads feed a ring of {@code stages}
     * buffers by {@code cp.async} with prefetch distance stages−2, so one stage is always free for the
     * MMA group still in flight ({@code wgmma.wait_group 1}).
     */
    static Ptx generateWgmma(Config c) {
        Ptx k = new Ptx(c.entry(), c.target());
        int T = c.threads();
        k.directive(".maxntid " + T + ", 1, 1");
        Reg y = k.paramPtr("y"), a = k.paramPtr("a"), b = k.paramPtr("b"), b2 = k.paramPtr("b2"), bias = k.paramPtr("bias");
        Reg M = k.paramU32("M"), N = k.paramU32("N"), K = k.paramU32("K");
        for (String unused : new String[]{"Cin", "H", "W", "ks", "stride", "padT", "padL", "Wout"}) k.paramU32(unused);
        int BK = c.bk(), S = c.stages(), SROW = c.srow(), sets = c.dual() ? 2 : 1, bn = c.bn();
        Reg dyn = k.dynamicShared("dyn", 1024);
        Reg smem = k.iop("add.u32", dyn, 1023);
        k.op("and.b32", smem, smem, 0xFFFFFC00); // 1024-B aligned ring: the swizzle pattern repeats every 8 rows × 128 B
        Reg tid = k.special("%tid.x");
        Reg lane = k.iop("and.b32", tid, 31), warp = k.iop("shr.u32", tid, 5), wg = k.iop("shr.u32", tid, 7);
        Reg m0 = k.iop("mul.lo.s32", k.special("%ctaid.y"), c.bm()), n0 = k.iop("mul.lo.s32", k.special("%ctaid.x"), bn);
        Operand opA = new Operand(k, c, true, c.bm(), T, tid, m0, M, K, a, null, null);
        Operand opB = new Operand(k, c, false, bn * sets, T, tid, n0, N, K, b, c.dual() ? b2 : null, null);
        opA.smem = smem;
        opB.smem = smem;
        opB.operandOff = c.bm() * SROW;
        opA.prepareAsync();
        opB.prepareAsync();
        Reg nk = k.iop("add.u32", K, BK - 1);
        k.op("div.u32", nk, nk, BK);

        Reg[][] acc = new Reg[sets][];
        for (int s = 0; s < sets; s++) {
            acc[s] = k.regs(PtxType.F32, bn / 2);
            for (Reg r : acc[s]) k.op("mov.f32", r, Ptx.f32(0f));
        }
        Reg one = k.setp("eq.u32", tid, tid); // scale-d = true: accumulate

        // descriptor template: LBO 16 B (unused with swizzle), SBO 1024 B, layout 1 = 128-B swizzle
        long hi = (1L << 16) | ((1024L >> 4) << 32) | (1L << 62);
        Reg aRow0 = k.iop("mul.lo.s32", wg, 64 * SROW);

        int pre = S - 2; // prefetch distance
        for (int s = 0; s < pre; s++) {
            Reg kS = k.constU32(s * BK), off = k.constU32(s * c.stageBytes());
            k.ifThen(k.setp("lt.u32", k.constU32(s), nk), false, () -> {
                opA.issue(kS, off, false);
                opB.issue(kS, off, false);
            });
            k.op("cp.async.commit_group");
        }
        Reg kt = k.constU32(0), readOff = k.constU32(0), writeOff = k.constU32(pre * c.stageBytes()), kLoad = k.constU32(pre * BK);
        String top = k.newLabel("ktile"), done = k.newLabel("kdone");
        k.label(top);
        k.braIf(k.setp("ge.u32", kt, nk), false, done);
        k.op("cp.async.wait_group", pre - 1);
        k.op("fence.proxy.async.shared::cta"); // cp.async wrote through the generic proxy; wgmma reads through the async one
        k.op("bar.sync", 0);
        Reg live = k.setp("lt.u32", k.iop("add.u32", kt, pre), nk);
        k.ifThen(live, false, () -> {
            opA.issue(kLoad, writeOff, false);
            opB.issue(kLoad, writeOff, false);
        });
        k.op("cp.async.commit_group");
        // descriptors of this stage
        Reg aAddr = k.iop("add.u32", k.iop("add.u32", smem, readOff), aRow0);
        Reg bAddr = k.iop("add.u32", k.iop("add.u32", smem, readOff), c.bm() * SROW);
        Reg descA = desc(k, aAddr, hi), descB = desc(k, bAddr, hi);
        mmaTile(k, descA, descB, BK, bn, SROW, acc, one);
        k.op("wgmma.wait_group.sync.aligned", 1); // the previous tile's MMAs are done: its stage may be refilled next iteration
        int wrap = S * c.stageBytes();
        for (Reg r : new Reg[]{readOff, writeOff}) {
            k.op("add.u32", r, r, c.stageBytes());
            k.opIf(k.setp("ge.u32", r, wrap), false, "mov.u32", r, 0);
        }
        k.op("add.u32", kLoad, kLoad, BK);
        k.op("add.u32", kt, kt, 1);
        k.bra(top);
        k.label(done);
        k.op("wgmma.wait_group.sync.aligned", 0);
        k.op("cp.async.wait_all");

        // accumulator i of a warp: row 16·warp + g + 8·((i>>1)&1), col 8·(i>>2) + 2t + (i&1): per 8 columns the mma.sync C layout
        Reg[][][][] tiles = new Reg[sets][1][bn / 8][];
        for (int s = 0; s < sets; s++)
            for (int j = 0; j < bn / 8; j++) tiles[s][0][j] = new Reg[]{acc[s][4 * j], acc[s][4 * j + 1], acc[s][4 * j + 2], acc[s][4 * j + 3]};
        epilogue(k, c, tiles, y, bias, M, N, m0, n0, warp, k.constU32(0), lane, 16, bn);
        return k;
    }

    /** Row tiles that consecutive CTAs of a TMA grid walk before moving along N, so a wave's A and B tiles stay in L2. */
    static final int RASTER_GROUP = 8;

    /**
     * The warp-specialised Hopper path (docs/cuda-notes §9): {@code entry(tmA, tmB, tmB2, y, bias, M, N, K)}, three tensor
     * maps (bf16, box 64 × rows, 128-B swizzle; {@code tmB2} = the up weight of SwiGLU, else any valid map), 1-D grid of
     * {@link Config#gridX} CTAs, tiles in grouped raster order, {@link Config#threads()} = 384 threads.
     *
     * <p>Warpgroup 0 is the producer: it gives up registers ({@code setmaxnreg.dec}) and one thread issues, per k-tile,
     * the TMA loads of A (bm × 64) and B (bn × 64, per weight) into a ring of {@code stages} buffers; each buffer has a
     * "full" mbarrier (TMA completes its transaction bytes) and an "empty" one (one arrival per consumer warp). The two
     * consumer warpgroups ({@code setmaxnreg.inc}) each own 64 rows × bn columns of f32 accumulators: wait on full, issue
     * the k-tile's {@code wgmma m64nNk16}s, commit, {@code wait_group 1} (so one group stays in flight while the next
     * tile is awaited) and release the previous tile's buffer. No CTA-wide barrier after setup.
     *
     * <p>Persistent variants launch at most one CTA per SM and loop over tiles {@code t = ctaid, ctaid + nctaid, …}; the ring
     * position and barrier phases run on across tiles, so the producer fills the next tile's stages while the consumers
     * store the previous one (the last buffer of a tile is released before its epilogue).
     */
    static Ptx generateTma(Config c) {
        Ptx k = new Ptx(c.entry(), c.target());
        k.directive(".maxntid " + c.threads() + ", 1, 1");
        k.directive(".minnctapersm 1"); // a register cap at entry, which setmaxnreg needs
        int cl = c.cluster();
        if (cl > 1) k.directive(".reqnctapercluster " + cl + ", 1, 1");
        Reg tmA = k.paramTensorMap("tmA"), tmB = k.paramTensorMap("tmB"), tmB2 = k.paramTensorMap("tmB2");
        Reg y = k.paramPtr("y"), bias = k.paramPtr("bias");
        Reg M = k.paramU32("M"), N = k.paramU32("N"), K = k.paramU32("K");
        int S = c.stages(), bn = c.bn(), bm = c.bm(), sets = c.dual() ? 2 : 1, stageBytes = c.stageBytes(), SROW = c.srow();
        int consumerWarps = c.warpsM() * c.warpsN();
        Reg dyn = k.dynamicShared("dyn", 1024);
        Reg smem = k.iop("add.u32", dyn, 1023);
        k.op("and.b32", smem, smem, 0xFFFFFC00); // TMA's 128-B swizzle pattern repeats every 1024 B: align the ring to it
        Reg bars = k.iop("add.u32", smem, S * stageBytes); // full[s] at +8s, empty[s] at +8(S+s)
        Reg tid = k.special("%tid.x");
        Reg wg = k.iop("shr.u32", tid, 7);

        // tiles: groups of RASTER_GROUP row tiles, walked down M first, then along N
        Reg tilesN = k.iop("add.u32", N, bn - 1);
        k.op("div.u32", tilesN, tilesN, bn);
        Reg tilesM = k.iop("add.u32", M, bm - 1);
        k.op("div.u32", tilesM, tilesM, bm);
        // a cluster's CTAs take the cl row tiles of one unit (rank r: row tile cl·unit + r), so units replace rows
        Reg rank = null, unitsM = tilesM;
        if (cl > 1) {
            rank = k.special("%cluster_ctarank");
            unitsM = k.iop("add.u32", tilesM, cl - 1);
            k.op("div.u32", unitsM, unitsM, cl);
        }
        Reg tileCount = k.iop("mul.lo.s32", unitsM, tilesN);
        Reg perGroup = k.iop("mul.lo.s32", tilesN, RASTER_GROUP);
        Reg nk = k.iop("add.u32", K, c.bk() - 1);
        k.op("div.u32", nk, nk, c.bk());
        Reg cta = k.special("%ctaid.x"), ctas = k.special("%nctaid.x");
        if (cl > 1) { // consecutive CTAs form a cluster: loop over cluster ids
            k.op("div.u32", cta, cta, cl);
            k.op("div.u32", ctas, ctas, cl);
        }
        Reg rankFinal = rank, unitsMFinal = unitsM;
        // persistent: for (t = ctaid; t < tiles; t += nctaid); otherwise the one tile t = ctaid
        java.util.function.Consumer<java.util.function.Consumer<Reg[]>> eachTile = body -> {
            java.util.function.Consumer<Reg> one = t -> {
                Reg firstM = k.iop("mul.lo.s32", k.iop("div.u32", t, perGroup), RASTER_GROUP);
                Reg groupRows = k.iop("sub.u32", unitsMFinal, firstM);
                k.op("min.u32", groupRows, groupRows, RASTER_GROUP);
                Reg within = k.iop("rem.u32", t, perGroup);
                Reg row = k.iop("add.u32", firstM, k.iop("rem.u32", within, groupRows));
                if (cl > 1) row = k.mad(row, cl, rankFinal);
                Reg m0 = k.iop("mul.lo.s32", row, bm);
                Reg n0 = k.iop("mul.lo.s32", k.iop("div.u32", within, groupRows), bn);
                body.accept(new Reg[]{m0, n0});
            };
            if (c.persistent()) k.forLoop(cta, tileCount, ctas, one);
            else one.accept(cta);
        };

        Reg first = k.setp("eq.u32", tid, 0);
        k.ifThen(first, false, () -> {
            for (int s = 0; s < S; s++) {
                k.op("mbarrier.init.shared::cta.b64", at(bars, 8L * s), 1);
                k.op("mbarrier.init.shared::cta.b64", at(bars, 8L * (S + s)), consumerWarps * cl); // every consumer warp of the cluster
            }
            k.op("fence.mbarrier_init.release.cluster"); // the inits are visible to the async proxy (TMA) before first use
        });
        if (cl > 1) { // the peer's barriers are initialised before anyone multicasts or arrives remotely
            k.op("barrier.cluster.arrive.release.aligned");
            k.op("barrier.cluster.wait.acquire.aligned");
        } else {
            k.op("bar.sync", 0);
        }
        String consumer = k.newLabel("consumer"), exit = k.newLabel("exit");
        k.braIf(k.setp("ne.u32", wg, 0), false, consumer);

        // ---------------- producer warpgroup: one thread issues every TMA load; the ring position runs on across tiles
        k.op("setmaxnreg.dec.sync.aligned.u32", 40);
        k.braIf(first, true, exit);
        {
            Reg stage = k.constU32(0), phase = k.constU32(0), dst = k.iop("add.u32", smem, 0), full = k.iop("add.u32", bars, 0);
            eachTile.accept(mn -> {
                Reg m0 = mn[0], n0 = mn[1];
                Reg kc = k.constU32(0), kt = k.constU32(0);
                String top = k.newLabel("produce"), done = k.newLabel("produced");
                k.label(top);
                k.braIf(k.setp("ge.u32", kt, nk), false, done);
                Reg empty = k.iop("add.u32", full, 8 * S);
                k.waitMbarrier(empty, k.iop("xor.b32", phase, 1)); // first round: parity 1 of a fresh barrier passes at once
                Reg state = k.reg(PtxType.B64);
                k.op("mbarrier.arrive.expect_tx.shared::cta.b64", state, at(full), stageBytes); // full boxes count, zero-filled edges included
                String load = "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes";
                if (cl == 1) {
                    k.op(load, at(dst), "[" + tmA + ", " + vec(kc, m0) + "]", at(full));
                    k.op(load, at(k.iop("add.u32", dst, bm * SROW)), "[" + tmB + ", " + vec(kc, n0) + "]", at(full));
                    if (c.dual()) k.op(load, at(k.iop("add.u32", dst, (bm + bn) * SROW)), "[" + tmB2 + ", " + vec(kc, n0) + "]", at(full));
                } else {
                    // own A tile; B in cl slices of bn/cl rows, slice r loaded by rank r into every CTA of the cluster (same
                    // offsets, same barrier). A box wholly past the matrix is read from row 0 instead: its rows or
                    // columns are never stored, and the box still delivers the bytes the barrier expects.
                    Reg mLoad = k.reg(PtxType.B32), nLoad = k.reg(PtxType.B32);
                    k.op("selp.b32", mLoad, m0, 0, k.setp("lt.u32", m0, M));
                    Reg nSlice = k.mad(rankFinal, bn / cl, n0);
                    k.op("selp.b32", nLoad, nSlice, 0, k.setp("lt.u32", nSlice, N));
                    Reg mask = k.reg(PtxType.B16);
                    k.op("mov.b16", mask, (1 << cl) - 1);
                    Reg sliceOff = k.iop("mul.lo.s32", rankFinal, bn / cl * SROW);
                    k.op(load, at(dst), "[" + tmA + ", " + vec(kc, mLoad) + "]", at(full));
                    String multicast = load + ".multicast::cluster";
                    k.op(multicast, at(k.iop("add.u32", k.iop("add.u32", dst, bm * SROW), sliceOff)), "[" + tmB + ", " + vec(kc, nLoad) + "]", at(full), mask);
                    if (c.dual())
                        k.op(multicast, at(k.iop("add.u32", k.iop("add.u32", dst, (bm + bn) * SROW), sliceOff)), "[" + tmB2 + ", " + vec(kc, nLoad) + "]", at(full), mask);
                }
                k.op("add.u32", kc, kc, c.bk());
                k.op("add.u32", kt, kt, 1);
                k.op("add.u32", stage, stage, 1);
                k.op("add.u32", dst, dst, stageBytes);
                k.op("add.u32", full, full, 8);
                Reg wrap = k.setp("eq.u32", stage, S);
                k.opIf(wrap, false, "mov.u32", stage, 0);
                k.opIf(wrap, false, "mov.u32", dst, smem);
                k.opIf(wrap, false, "mov.u32", full, bars);
                k.opIf(wrap, false, "xor.b32", phase, phase, 1);
                k.bra(top);
                k.label(done);
            });
        }
        k.bra(exit);

        // ---------------- consumer warpgroups: 64 rows each
        k.label(consumer);
        k.op("setmaxnreg.inc.sync.aligned.u32", 232);
        Reg cw = k.iop("sub.u32", wg, 1);
        Reg lane = k.iop("and.b32", tid, 31), warpInGroup = k.iop("and.b32", k.iop("shr.u32", tid, 5), 3);
        Reg[][] acc = new Reg[sets][];
        for (int s = 0; s < sets; s++) acc[s] = k.regs(PtxType.F32, bn / 2);
        Reg one = k.setp("eq.u32", tid, tid); // scale-d = true: accumulate
        long hi = (1L << 16) | ((1024L >> 4) << 32) | (1L << 62); // LBO 16 (unused with swizzle), SBO 1024, 128-B swizzle
        Reg aRow = k.iop("mul.lo.s32", cw, 64 * SROW);
        Reg releaser = k.setp("eq.u32", lane, 0);
        {
            Reg phase = k.constU32(0), stage = k.constU32(0), stOff = k.constU32(0), full = k.iop("add.u32", bars, 0);
            eachTile.accept(mn -> {
                Reg m0 = mn[0], n0 = mn[1];
                for (Reg[] set : acc) for (Reg r : set) k.op("mov.f32", r, Ptx.f32(0f));
                Reg kt = k.constU32(0), prevEmpty = k.iop("add.u32", bars, 8 * S);
                String top = k.newLabel("consume"), done = k.newLabel("consumed");
                k.label(top);
                k.braIf(k.setp("ge.u32", kt, nk), false, done);
                k.waitMbarrier(full, phase);
                Reg base = k.iop("add.u32", smem, stOff);
                Reg descA = desc(k, k.iop("add.u32", base, aRow), hi), descB = desc(k, k.iop("add.u32", base, bm * SROW), hi);
                mmaTile(k, descA, descB, c.bk(), bn, SROW, acc, one);
                k.op("wgmma.wait_group.sync.aligned", 1); // the previous k-tile's group is done: release its buffer
                Reg rel = k.reg(PtxType.PRED);
                k.op("setp.ne.and.u32", rel, kt, 0, releaser);
                release(k, rel, prevEmpty, cl);
                k.op("add.u32", prevEmpty, full, 8 * S);
                k.op("add.u32", kt, kt, 1);
                k.op("add.u32", stage, stage, 1);
                k.op("add.u32", stOff, stOff, stageBytes);
                k.op("add.u32", full, full, 8);
                Reg wrap = k.setp("eq.u32", stage, S);
                k.opIf(wrap, false, "mov.u32", stage, 0);
                k.opIf(wrap, false, "mov.u32", stOff, 0);
                k.opIf(wrap, false, "mov.u32", full, bars);
                k.opIf(wrap, false, "xor.b32", phase, phase, 1);
                k.bra(top);
                k.label(done);
                k.op("wgmma.wait_group.sync.aligned", 0);
                Reg last = k.reg(PtxType.PRED); // the tile's last buffer, so the producer can refill it during the epilogue
                k.op("setp.ne.and.u32", last, nk, 0, releaser);
                release(k, last, prevEmpty, cl);
                pairEpilogue(k, c, acc, y, bias, M, N, k.mad(cw, 64, m0), n0, warpInGroup, lane);
            });
        }
        k.label(exit);
        if (cl > 1) { // no CTA leaves while its peer may still multicast into it or arrive on its barriers
            k.op("barrier.cluster.arrive.release");
            k.op("barrier.cluster.wait.acquire");
        }
        return k;
    }

    /**
     * A consumer warp's release of the ring buffer whose "empty" barrier is at {@code empty} (lane 0 only, under {@code pred}):
     * on its own CTA's barrier, or with a cluster on that barrier in every CTA (each producer multicasts into all of them).
     */
    private static void release(Ptx k, Reg pred, Reg empty, int cl) {
        if (cl == 1) {
            Reg state = k.reg(PtxType.B64);
            k.opIf(pred, false, "mbarrier.arrive.shared::cta.b64", state, at(empty));
            return;
        }
        for (int r = 0; r < cl; r++) {
            Reg remote = k.reg(PtxType.B32);
            k.op("mapa.shared::cluster.u32", remote, empty, r);
            k.opIf(pred, false, "mbarrier.arrive.release.cluster.shared::cluster.b64", "_", at(remote));
        }
    }

    /**
     * {@code d = x · rcp(1 + 2^(−x·log2 e))} with the approximate reciprocal (about 1 ulp): the epilogue's 128 SiLUs per
     * thread cost about a third of {@code div.rn}'s; saturates to −0 / x at the extremes like the exact form.
     */
    private static void fastSilu(Ptx k, Reg d, Reg x) {
        Reg t = k.reg(PtxType.F32);
        k.op("mul.f32", t, x, Ptx.f32((float) (-1 / Math.log(2))));
        k.op("ex2.approx.ftz.f32", t, t);
        k.op("add.f32", t, t, Ptx.f32(1f));
        k.op("rcp.approx.ftz.f32", t, t);
        k.op("mul.f32", d, x, t);
    }


    /**
     * The wgmma accumulator epilogue by column pairs (N % 8 == 0, y and bias 8-B aligned): accumulator i of warp w holds
     * row 16w + g + 8·((i>>1)&1), columns 8·(i>>2) + 2t + {0,1}, so each (j, h) pair is one {@code v2.f32} access.
     */
    private static void pairEpilogue(Ptx k, Config c, Reg[][] acc, Reg y, Reg bias, Reg M, Reg N, Reg rowTop, Reg n0, Reg warpInGroup, Reg lane) {
        Reg g = k.iop("shr.u32", lane, 2), t = k.iop("and.b32", lane, 3);
        Reg row0 = k.iop("add.u32", k.mad(warpInGroup, 16, rowTop), g);
        Reg col0 = k.iop("add.u32", n0, k.iop("shl.b32", t, 1));
        Reg hasBias = k.paramNonNull("bias");
        Reg biasRow = k.addr(bias, col0, 4);
        int pairs = c.bn() / 8;
        for (int h = 0; h < 2; h++) {
            Reg m = k.iop("add.u32", row0, 8 * h);
            Reg mOk = k.setp("lt.u32", m, M);
            Reg rowPtr = k.addr(y, k.mad(m, N, col0), c.yBytes());
            long step = 8L * c.yBytes(); // 8 columns per accumulator group
            for (int j = 0; j < pairs; j++) {
                Reg ok = k.reg(PtxType.PRED);
                k.op("setp.lt.and.u32", ok, k.iop("add.u32", col0, 8 * j), N, mOk);
                Reg v0 = acc[0][4 * j + 2 * h], v1 = acc[0][4 * j + 2 * h + 1];
                if (c.dual()) {
                    Reg s0 = k.reg(PtxType.F32), s1 = k.reg(PtxType.F32);
                    fastSilu(k, s0, v0);
                    fastSilu(k, s1, v1);
                    v0 = k.fop("mul.f32", s0, acc[1][4 * j + 2 * h]);
                    v1 = k.fop("mul.f32", s1, acc[1][4 * j + 2 * h + 1]);
                } else {
                    Reg b0 = k.constF32(0f), b1 = k.constF32(0f), both = k.reg(PtxType.PRED);
                    k.op("and.pred", both, ok, hasBias);
                    k.opIf(both, false, "ld.global.v2.f32", vec(b0, b1), at(biasRow, 32L * j)); // bias is f32
                    v0 = k.fop("add.f32", v0, b0);
                    v1 = k.fop("add.f32", v1, b1);
                }
                if (c.epi() == Epilogue.ADD) {
                    Reg o0 = k.constF32(0f), o1 = k.constF32(0f);
                    k.opIf(ok, false, "ld.global.v2.f32", vec(o0, o1), at(rowPtr, step * j));
                    k.op("add.f32", v0, v0, o0);
                    k.op("add.f32", v1, v1, o1);
                }
                if (c.yBf16()) { // the pair as one bf16x2 word: column col0 + 8j in the low half (little-endian: lower address)
                    Reg packed = k.reg(PtxType.B32);
                    k.op("cvt.rn.bf16x2.f32", packed, v1, v0);
                    k.opIf(ok, false, "st.global.b32", at(rowPtr, step * j), packed);
                } else {
                    k.opIf(ok, false, "st.global.v2.f32", at(rowPtr, step * j), vec(v0, v1));
                }
            }
        }
    }

    /**
     * One k-tile of tensor-core work as one wgmma group: per 16-deep slice, one {@code m64nBNk16} per accumulator set
     * (set s reads B rows {@code s·bn…}, {@code srow} bytes per shared row), A and B straight from the stage's swizzled shared memory by descriptor.
     */
    private static void mmaTile(Ptx k, Reg descA, Reg descB, int bk, int bn, int srow, Reg[][] acc, Reg one) {
        k.op("wgmma.fence.sync.aligned");
        for (int kk = 0; kk < bk / 16; kk++) {
            Reg dA = k.reg(PtxType.B64);
            k.op("add.s64", dA, descA, kk * 2); // +32 B along K inside the swizzled row
            for (int s = 0; s < acc.length; s++) {
                Reg dB = k.reg(PtxType.B64);
                k.op("add.s64", dB, descB, kk * 2 + (long) s * bn * srow / 16);
                k.op("wgmma.mma_async.sync.aligned.m64n" + bn + "k16.f32.bf16.bf16", vec((Object[]) acc[s]), dA, dB, one, 1, 1, 0, 0);
            }
        }
        k.op("wgmma.commit_group.sync.aligned");
    }

    /** A shared-memory matrix descriptor: {@code (addr >> 4) & 0x3FFF} in bits 0–13, the rest from {@code hi}. */
    static Reg desc(Ptx k, Reg addr, long hi) {
        Reg lo = k.iop("shr.u32", addr, 4);
        k.op("and.b32", lo, lo, 0x3FFF);
        Reg d = k.reg(PtxType.B64);
        k.op("cvt.u64.u32", d, lo);
        k.op("or.b64", d, d, hi);
        return d;
    }

    static void mma(Ptx k, Reg[] d, Reg[] a, Reg b0, Reg b1) {
        k.op("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", vec((Object[]) d), vec((Object[]) a), vec(b0, b1), vec((Object[]) d));
    }

    private static void epilogue(Ptx k, Config c, Reg[][][][] acc, Reg y, Reg bias, Reg M, Reg N, Reg m0, Reg n0,
                                 Reg wm, Reg wn, Reg lane, int wtm, int wtn) {
        Reg g = k.iop("shr.u32", lane, 2), t = k.iop("and.b32", lane, 3);
        Reg rowBase = k.iop("add.u32", k.mad(wm, wtm, m0), g);
        Reg colBase = k.iop("add.u32", k.mad(wn, wtn, n0), k.iop("shl.b32", t, 1));
        Reg hasBias = k.paramNonNull("bias");
        int mt = acc[0].length, nt = acc[0][0].length;
        for (int i = 0; i < mt; i++)
            for (int h = 0; h < 2; h++) {
                Reg m = k.iop("add.u32", rowBase, i * 16 + h * 8);
                Reg mOk = k.setp("lt.u32", m, M);
                for (int j = 0; j < nt; j++)
                    for (int e = 0; e < 2; e++) {
                        Reg n = k.iop("add.u32", colBase, j * 8 + e);
                        Reg ok = k.reg(PtxType.PRED);
                        k.op("setp.lt.and.u32", ok, n, N, mOk);
                        Reg v = acc[0][i][j][2 * h + e];
                        if (c.dual()) {
                            Reg s = k.reg(PtxType.F32);
                            ElementwiseKernels.silu(k, s, v);
                            v = k.fop("mul.f32", s, acc[1][i][j][2 * h + e]);
                        } else {
                            Reg bv = k.constF32(0f);
                            Reg both = k.reg(PtxType.PRED);
                            k.op("and.pred", both, ok, hasBias);
                            k.opIf(both, false, "ld.global.f32", bv, at(k.addr(bias, n, 4)));
                            v = k.fop("add.f32", v, bv);
                        }
                        Reg idx = c.epi() == Epilogue.STORE_TRANSPOSED ? k.mad(n, M, m) : k.mad(m, N, n);
                        Reg p = k.addr(y, idx, c.yBytes());
                        if (c.epi() == Epilogue.ADD) {
                            Reg old = k.constF32(0f);
                            k.opIf(ok, false, "ld.global.f32", old, at(p));
                            k.op("add.f32", v, v, old);
                        }
                        if (c.yBf16()) {
                            Reg hv = k.reg(PtxType.B16);
                            k.op("cvt.rn.bf16.f32", hv, v);
                            k.opIf(ok, false, "st.global.b16", at(p), hv);
                        } else {
                            k.opIf(ok, false, "st.global.f32", at(p), v);
                        }
                    }
            }
    }

    /** The loader of one operand (A rows = M side, or B rows = N side) for one k-tile. */
    private static final class Operand {
        final Ptx k;
        final Config c;
        final boolean isA, f32, vec, im2col;
        final int rows, T;
        final Reg tid, base0, limit, K, ptr, ptr2;
        final Reg[] conv;
        Reg smem;
        int operandOff;
        Reg[] held; // registers holding the fetched tile until finish()
        int perThread;

        Operand(Ptx k, Config c, boolean isA, int rows, int T, Reg tid, Reg base0, Reg limit, Reg K, Reg ptr, Reg ptr2, Reg[] conv) {
            this.k = k;
            this.c = c;
            this.isA = isA;
            this.rows = rows;
            this.T = T;
            this.tid = tid;
            this.base0 = base0;
            this.limit = limit;
            this.K = K;
            this.ptr = ptr;
            this.ptr2 = ptr2;
            this.conv = conv;
            this.f32 = isA ? c.a() != ASource.BF16 : c.bF32();
            this.im2col = isA && c.a() == ASource.IM2COL;
            this.vec = c.vec() && !im2col;
        }

        void issue(Reg k0, Reg stageOff, boolean commit) {
            int SROW = c.srow(), BK = c.bk(), cpr = BK / 8;
            if (vec && !f32) {
                // bf16 rows of bk = bk/8 chunks of 16 B, straight into shared memory with cp.async (zero-filled past
                // the edges). Each thread's rows, chunk and pointers are fixed: computed once (prepare), advanced per tile.
                if (rowPtr == null) prepareAsync();
                Reg col = k.mad(chunk, 8, k0);
                Reg colOk = k.setp("lt.u32", col, K);
                Reg kBytes = k.reg(PtxType.B64);
                k.op("mul.wide.u32", kBytes, k0, 2);
                for (int p = 0; p < rowPtr.length; p++) {
                    Reg ok = k.reg(PtxType.PRED);
                    k.op("and.pred", ok, rowOk[p], colOk);
                    Reg gAddr = k.reg(PtxType.B64);
                    k.op("add.s64", gAddr, rowPtr[p], kBytes);
                    k.op("selp.b64", gAddr, gAddr, ptr, ok);
                    Reg bytes = k.reg(PtxType.B32);
                    k.op("selp.b32", bytes, 16, 0, ok);
                    Reg dst = k.iop("add.u32", dstOff[p], stageOff);
                    k.op("cp.async.cg.shared.global", at(dst), at(gAddr), 16, bytes);
                }
                if (commit) k.op("cp.async.commit_group");
                return;
            }
            if (vec) {
                // f32 rows of 32 = 8 float4; fetched into registers
                int quads = rows * 8;
                perThread = quads / T;
                held = k.regs(PtxType.F32, 4 * perThread);
                for (int p = 0; p < perThread; p++) {
                    Reg idx = k.iop("add.u32", tid, p * T);
                    Reg r = k.iop("shr.u32", idx, 3), q = k.iop("and.b32", idx, 7);
                    Reg[] rs = rowSourceDyn(r);
                    Reg col = k.mad(q, 4, k0);
                    Reg ok = k.reg(PtxType.PRED);
                    k.op("setp.lt.and.u32", ok, rs[0], limit, k.setp("lt.u32", col, K));
                    for (int e = 0; e < 4; e++) k.op("mov.f32", held[4 * p + e], Ptx.f32(0f));
                    k.opIf(ok, false, "ld.global.v4.f32", vec(held[4 * p], held[4 * p + 1], held[4 * p + 2], held[4 * p + 3]),
                            at(k.addr(rs[1], k.mad(rs[0], K, col), 4)));
                }
                return;
            }
            // scalar: one element per (thread, pass); rows of 32 elements
            int elems = rows * BK;
            perThread = elems / T;
            held = k.regs(f32 ? PtxType.F32 : PtxType.B16, perThread);
            Reg col = k.iop("add.u32", k.iop("and.b32", tid, 31), k0);
            Reg colOk = k.setp("lt.u32", col, K);
            Reg[] ck = null;
            if (im2col) { // k → (ci, ky, kx)
                Reg kk2 = k.iop("mul.lo.s32", conv[3], conv[3]);
                Reg ci = k.iop("div.u32", col, kk2), rem = k.iop("rem.u32", col, kk2);
                ck = new Reg[]{ci, k.iop("div.u32", rem, conv[3]), k.iop("rem.u32", rem, conv[3])};
            }
            for (int p = 0; p < perThread; p++) {
                Reg r = k.iop("add.u32", k.iop("shr.u32", tid, 5), p * T / 32);
                Reg[] rs = rowSourceDyn(r);
                Reg ok = k.reg(PtxType.PRED);
                k.op("setp.lt.and.u32", ok, rs[0], limit, colOk);
                if (f32) k.op("mov.f32", held[p], Ptx.f32(0f));
                else k.op("mov.b16", held[p], 0);
                Reg srcIdx;
                if (im2col) {
                    // m → (oy, ox); input pixel (oy·stride + ky − padT, ox·stride + kx − padL), zero outside
                    Reg oy = k.iop("div.u32", rs[0], conv[7]), ox = k.iop("rem.u32", rs[0], conv[7]);
                    Reg iy = k.iop("sub.s32", k.mad(oy, conv[4], ck[1]), conv[5]);
                    Reg ix = k.iop("sub.s32", k.mad(ox, conv[4], ck[2]), conv[6]);
                    k.op("setp.lt.and.u32", ok, iy, conv[1], ok);
                    k.op("setp.lt.and.u32", ok, ix, conv[2], ok);
                    srcIdx = k.mad(k.mad(ck[0], conv[1], iy), conv[2], ix);
                } else {
                    srcIdx = k.mad(rs[0], K, col);
                }
                k.opIf(ok, false, f32 ? "ld.global.f32" : "ld.global.b16", held[p], at(k.addr(rs[1], srcIdx, f32 ? 4 : 2)));
            }
        }

        Reg chunk;
        Reg[] rowPtr, rowOk, dstOff;

        /** Per-thread constants of the cp.async loader: its 16-B chunk column, and per pass the row's pointer, validity and smem offset. */
        void prepareAsync() {
            int SROW = c.srow(), cpr = c.bk() / 8;
            if (T % cpr != 0 || (rows * cpr) % T != 0)
                throw new IllegalArgumentException(c.entry() + ": " + rows + " rows of " + cpr + " chunks do not split over " + T + " threads");
            int passes = rows * cpr / T;
            chunk = k.iop("rem.u32", tid, cpr);
            Reg r0 = k.iop("div.u32", tid, cpr);
            rowPtr = new Reg[passes];
            rowOk = new Reg[passes];
            dstOff = new Reg[passes];
            for (int p = 0; p < passes; p++) {
                Reg r = k.iop("add.u32", r0, p * (T / cpr));
                Reg[] rs = rowSourceDyn(r);
                rowOk[p] = k.setp("lt.u32", rs[0], limit);
                rowPtr[p] = k.addr(rs[1], k.mad(rs[0], K, k.iop("shl.b32", chunk, 3)), 2);
                // wgmma tiles use the 128-B swizzle: chunk c of row r lands at chunk c ^ (r mod 8)
                Reg ch = c.wgmma() ? k.iop("xor.b32", chunk, k.iop("and.b32", r, 7)) : chunk;
                dstOff[p] = k.iop("add.u32", k.mad(r, SROW, k.iop("shl.b32", ch, 4)), k.iop("add.u32", smem, operandOff));
            }
        }

        /** (global row, source pointer) for a tile-local row held in a register. */
        private Reg[] rowSourceDyn(Reg r) {
            if (ptr2 == null) return new Reg[]{k.iop("add.u32", base0, r), ptr};
            Reg second = k.setp("ge.u32", r, c.bn());
            Reg rLocal = k.reg(PtxType.B32);
            k.op("sub.u32", rLocal, r, c.bn());
            k.op("selp.b32", rLocal, rLocal, r, second);
            Reg src = k.reg(PtxType.B64);
            k.op("selp.b64", src, ptr2, ptr, second);
            return new Reg[]{k.iop("add.u32", base0, rLocal), src};
        }

        /** Stores the registers fetched by {@link #issue} as bf16 into the stage at {@code stageOff}. */
        void finish(Reg smem, Reg stageOff, int operandOff) {
            int SROW = c.srow(), BK = c.bk();
            if (vec && !f32) return; // cp.async already targets shared memory
            Reg base = k.iop("add.u32", smem, operandOff);
            if (stageOff != null) k.op("add.u32", base, base, stageOff);
            if (vec) {
                for (int p = 0; p < perThread; p++) {
                    Reg idx = k.iop("add.u32", tid, p * T);
                    Reg r = k.iop("shr.u32", idx, 3), q = k.iop("and.b32", idx, 7);
                    Reg lo = k.reg(PtxType.B32), hi = k.reg(PtxType.B32);
                    k.op("cvt.rn.bf16x2.f32", lo, held[4 * p + 1], held[4 * p]);
                    k.op("cvt.rn.bf16x2.f32", hi, held[4 * p + 3], held[4 * p + 2]);
                    k.op("st.shared.v2.b32", at(k.iop("add.u32", base, k.mad(r, SROW, k.iop("shl.b32", q, 3)))), vec(lo, hi));
                }
                return;
            }
            Reg colB = k.iop("shl.b32", k.iop("and.b32", tid, 31), 1);
            for (int p = 0; p < perThread; p++) {
                Reg r = k.iop("add.u32", k.iop("shr.u32", tid, 5), p * T / 32);
                Reg h;
                if (f32) {
                    h = k.reg(PtxType.B16);
                    k.op("cvt.rn.bf16.f32", h, held[p]);
                } else {
                    h = held[p];
                }
                k.op("st.shared.b16", at(k.iop("add.u32", base, k.mad(r, SROW, colB))), h);
            }
        }
    }
}
