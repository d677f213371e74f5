package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.ptx.Ptx;
import dev.zimage4j.kernels.ptx.PtxType;
import dev.zimage4j.kernels.ptx.Reg;

import java.util.List;

import static dev.zimage4j.kernels.ptx.Ptx.at;
import static dev.zimage4j.kernels.ptx.Ptx.vec;

/**
 * The flash-attention generator (FA2 design, docs/cuda-notes §10): a CTA of 4 warps owns
 * {@code 16·warps} query rows of one head (16 per warp, so the softmax needs no cross-warp traffic) and
 * walks the keys in tiles of {@code bc}: S = Q·Kᵀ and O += P·V on {@code mma.sync m16n8k16} bf16 with f32
 * accumulators, online softmax in base 2 with the scale and log2e folded into one multiplier, P reused
 * as the A fragment of the P·V product without shuffles. K/V tiles are converted from the f32
 * activations into bf16 shared memory; dims are zero-padded to a multiple of 16.
 *
 * <p>Masks: keys {@code >= kvEnd} (the key count and the padding bound together) and, when causal,
 * keys after the query. GQA: query head h reads kv head {@code h / group}. Head dims above 128 (the
 * VAE's single 512-wide head) are split over {@code grid.z} into {@code dChunk}-wide output slices, each
 * recomputing S over the full dim, with Q read from shared memory instead of registers.
 *
 * <p>On Hopper ({@code sm_90a}) the same generator emits the FlashAttention-3-style variant ({@link #generateWgmma}):
 * {@code wgmma} for both products, P kept in registers as the A operand, the softmax of one key tile overlapping the
 * P·V of the previous one, for head dims 64, 128 and 512; {@link #wgmmaConfig} picks the measured best per shape and
 * the backend falls back to the {@code mma.sync} variants elsewhere.
 *
 * <p>Output: f32, or (both paths, {@link Config#outBf16}) a bf16 matrix operand that the next GEMM reads as it is.
 */
final class AttentionKernel {

    private AttentionKernel() {
    }


    /**
     * One attention variant.
     *
     * @param headDim  D
     * @param dChunk   output dims per CTA (D when D ≤ 128)
     * @param bc       keys per tile
     * @param qInRegs  keep Q's fragments in registers for the whole loop (mma.sync path)
     * @param warps    warps per CTA; the CTA owns {@code 16·warps} query rows
     * @param bf16     Q, K, V arrive as bf16 (converted once by the caller, head dim a multiple of 8): tiles
     *                 stream in by {@code cp.async}, K/V double-buffered so the next tile loads during this one's math;
     *                 otherwise f32 inputs are converted on the way into a single stage
     * @param wgmma    the Hopper path ({@code sm_90a}, {@link #generateWgmma}): {@code warps/4} warpgroups of 64 query rows,
     *                 Q read as f32 and converted into shared memory by the kernel, K/V bf16
     * @param prefetch wgmma path: K/V tiles loaded ahead of the one being multiplied (K ring prefetch+1 stages, V ring prefetch+2)
     * @param decoupled wgmma path: the rings are guarded by mbarriers (a "full" barrier per stage that the copies arrive on,
     *                  an "empty" one the warps arrive on when done with it) instead of one CTA barrier per tile, so the
     *                  warpgroups drift apart and one's softmax overlaps another's MMAs; both rings then hold prefetch+2 tiles
     * @param outBf16  the output is a bf16 matrix operand ({@code Backend.allocOperand}): the normalised O is rounded to bf16
     *                 (round to nearest even, as the conversion pass it replaces) and stored as 2-byte elements
     */
    record Config(int headDim, int dChunk, int bc, boolean qInRegs, int warps, boolean bf16, boolean wgmma, int prefetch, boolean decoupled,
                  boolean outBf16) {
        /** An {@code mma.sync} variant. */
        Config(int headDim, int dChunk, int bc, boolean qInRegs, int warps, boolean bf16) {
            this(headDim, dChunk, bc, qInRegs, warps, bf16, false, 0, false, false);
        }

        /** A variant with an f32 output. */
        Config(int headDim, int dChunk, int bc, boolean qInRegs, int warps, boolean bf16, boolean wgmma, int prefetch, boolean decoupled) {
            this(headDim, dChunk, bc, qInRegs, warps, bf16, wgmma, prefetch, decoupled, false);
        }

        /** This variant with a bf16 ({@code true}) or f32 output. */
        Config withOutBf16(boolean b) {
            return new Config(headDim, dChunk, bc, qInRegs, warps, bf16, wgmma, prefetch, decoupled, b);
        }

        /** Bytes of one output element. */
        int outBytes() {
            return outBf16 ? 2 : 4;
        }

        /** A wgmma variant: {@code wgs} warpgroups of 64 query rows. */
        static Config wgmma(int headDim, int dChunk, int bc, int wgs, int prefetch, boolean decoupled) {
            return new Config(headDim, dChunk, bc, false, 4 * wgs, true, true, prefetch, decoupled);
        }

        Config {
            if (bf16 && headDim % 8 != 0) throw new IllegalArgumentException("bf16 attention needs a head dim multiple of 8, got " + headDim);
            if (wgmma && (!bf16 || headDim % 64 != 0 || dChunk % 64 != 0 || headDim % dChunk != 0 || dChunk > 256 || bc % 16 != 0 || bc > 256
                    || warps % 4 != 0 || warps < 4 || warps > 12 || prefetch < 1 || (32 * warps) % (headDim / 8) != 0))
                throw new IllegalArgumentException("wgmma attention: bf16 K/V, head dim and chunk multiples of 64 (chunk ≤ 256, dividing D), "
                        + "bc a multiple of 16 up to 256, 1–3 warpgroups, prefetch ≥ 1; got " + this);
        }

        int dp() {
            return (headDim + 15) / 16 * 16;
        }

        int dcp() {
            return (dChunk + 15) / 16 * 16;
        }

        int qStride() {
            return dp() * 2 + 16;
        }

        int vStride() {
            return dcp() * 2 + 16;
        }

        int chunks() {
            return (headDim + dChunk - 1) / dChunk;
        }

        /** Query rows per CTA. */
        int br() {
            return 16 * warps;
        }

        int threads() {
            return 32 * warps;
        }

        /** One K/V stage: K [bc][Dp] and V [bc][DCp] in bf16, padded rows. */
        int stageBytes() {
            return bc * qStride() + bc * vStride();
        }

        int stages() {
            return bf16 ? 2 : 1;
        }

        /** Bytes before stage 0: the Q tile, unless it lives in stage 1 until its fragments are in registers. */
        int qBytes() {
            return bf16 && qInRegs && br() * qStride() <= stageBytes() ? 0 : br() * qStride();
        }

        /** wgmma path: one K tile {@code [bc][D]} (D/64 swizzled panels), one V tile {@code [bc][dChunk]}. */
        int kTileBytes() {
            return bc * headDim * 2;
        }

        int vTileBytes() {
            return bc * dChunk * 2;
        }

        /** Dynamic shared memory (wgmma: Q tile, K ring, V ring, 1 KB slack to align to the 1024-B swizzle period). */
        int smemBytes() {
            if (wgmma) return br() * headDim * 2 + kStages() * kTileBytes() + (prefetch + 2) * vTileBytes() + (decoupled ? 16 * (prefetch + 2) : 0) + 1024;
            return qBytes() + stages() * stageBytes();
        }

        /** wgmma path: stages of the K ring. */
        int kStages() {
            return decoupled ? prefetch + 2 : prefetch + 1;
        }

        String target() {
            return wgmma ? "sm_90a" : Ptx.TARGET;
        }

        String entry() {
            String o = outBf16 ? "_obf16" : "";
            if (wgmma) return "attention_wgmma_d" + headDim + "_c" + dChunk + "_bc" + bc + "_wg" + warps / 4 + "_p" + prefetch + (decoupled ? "_mb" : "") + o;
            return "attention_d" + headDim + "_c" + dChunk + "_bc" + bc + "_w" + warps + (qInRegs ? "_qreg" : "_qsmem") + (bf16 ? "_bf16" : "_f32") + o;
        }
    }

    /** The variant for head dim {@code d}, bf16 inputs where the dim allows. */
    static Config config(int d, boolean bf16) {
        return d <= 128 ? new Config(d, d, 64, true, 4, bf16) : new Config(d, 128, bf16 ? 32 : 64, false, 4, bf16);
    }

    /**
     * The Hopper variant for head dim {@code d}, or null where the wgmma path does not apply (d not 64, 128 or 512). Measured on
     * the H200 (docs/gpu.md): for d = 128, three decoupled warpgroups with 96-key tiles where the grid fills at least
     * three waves of 192-row CTAs (0.578 ms at 30 heads × 4224 tokens), else one warpgroup per CTA, two CTAs per SM
     * (0.076 ms at 1088 tokens, where 192-row CTAs leave the last wave mostly empty); d = 512: 256-wide output chunks.
     *
     * @param sq    queries
     * @param heads query heads
     */
    static Config wgmmaConfig(int d, int sq, int heads) {
        return switch (d) {
            case 64 -> Config.wgmma(64, 64, 64, 3, 2, false);
            case 128 -> (long) (sq + 191) / 192 * heads >= 3 * 132 ? Config.wgmma(128, 128, 96, 3, 1, true) : Config.wgmma(128, 128, 64, 1, 1, false);
            case 512 -> Config.wgmma(512, 256, 32, 1, 2, false);
            default -> null;
        };
    }

    /** Tile shapes the benchmark sweeps for head dim 128 (bf16 inputs). */
    static List<Config> candidates128() {
        return List.of(config(128, true), new Config(128, 128, 128, true, 4, true), new Config(128, 128, 64, true, 8, true),
                new Config(128, 128, 32, true, 4, true));
    }

    /** The Hopper variants the benchmark sweeps and the check runs, for head dim 128 (first two: the defaults for long and short sequences). */
    static List<Config> wgmmaCandidates128() {
        return List.of(wgmmaConfig(128, 4224, 30), wgmmaConfig(128, 1088, 30), Config.wgmma(128, 128, 80, 3, 2, true),
                Config.wgmma(128, 128, 64, 3, 2, true), Config.wgmma(128, 128, 64, 3, 2, false), Config.wgmma(128, 128, 128, 2, 1, false));
    }

    /** The Hopper variants for the VAE's single 512-wide head (first = default). */
    static List<Config> wgmmaCandidates512() {
        return List.of(wgmmaConfig(512, 16384, 1), Config.wgmma(512, 256, 32, 1, 1, false), Config.wgmma(512, 256, 32, 1, 1, true));
    }

    /** Variants for dump-ptx: the model's head dims (DiT 128, Qwen3 128, VAE 512) and small test dims. */
    static List<Config> allConfigs() {
        List<Config> out = new java.util.ArrayList<>();
        for (int d : new int[]{16, 32, 64, 128, 512}) {
            out.add(config(d, true));
            out.add(config(d, false));
            if (wgmmaConfig(d, 64, 1) != null) out.add(wgmmaConfig(d, 64, 1));
        }
        out.add(config(20, false));
        for (Config c : candidates128()) if (!out.contains(c)) out.add(c);
        for (Config c : wgmmaCandidates128()) if (!out.contains(c)) out.add(c);
        for (Config c : wgmmaCandidates512()) if (!out.contains(c)) out.add(c);
        out.addAll(bf16OutputConfigs());
        return out;
    }

    /**
     * The bf16-output variants the backend can choose (attention into an operand tensor): the wgmma defaults (head dims
     * 64, 128 both shapes, 512) and the mma.sync defaults of the model's and the tests' head dims.
     */
    static List<Config> bf16OutputConfigs() {
        List<Config> out = new java.util.ArrayList<>();
        for (int d : new int[]{16, 20, 32, 64, 128, 512}) {
            for (Config c : new Config[]{config(d, d % 8 == 0), config(d, false), wgmmaConfig(d, 64, 1), wgmmaConfig(d, 4224, 30)})
                if (c != null && !out.contains(c.withOutBf16(true))) out.add(c.withOutBf16(true));
        }
        return out;
    }

    /**
     * {@code entry(out, q, k, v, Sq, ldq, ldk, ldo, group, kvEnd, causal, scaleLog2)}. Grid
     * {@code (ceil(Sq/br), heads, chunks)}, {@link Config#threads()} threads, {@link Config#smemBytes()} dynamic smem.
     */
    static Ptx generate(Config c) {
        if (c.wgmma()) return generateWgmma(c);
        Ptx k = new Ptx(c.entry());
        k.directive(".maxntid " + c.threads() + ", 1, 1");
        int BR = c.br(), THREADS = c.threads();
        Reg out = k.paramPtr("out"), q = k.paramPtr("q"), kp = k.paramPtr("k"), vp = k.paramPtr("v");
        Reg sq = k.paramU32("Sq"), ldq = k.paramU32("ldq"), ldk = k.paramU32("ldk"), ldo = k.paramU32("ldo");
        Reg group = k.paramU32("group"), kvEnd = k.paramU32("kvEnd"), causal = k.paramU32("causal");
        Reg scaleLog2 = k.paramF32("scaleLog2");
        int D = c.headDim(), dp = c.dp(), dcp = c.dcp(), bc = c.bc();
        int nS = bc / 8, nO = dcp / 8, nK = dp / 16;

        Reg smem = k.dynamicShared("dyn");
        // stage 0 after the Q tile (if any); with bf16 + Q in registers, Q borrows stage 1 until its fragments are loaded
        Reg sK = k.iop("add.u32", smem, c.qBytes()), sV = k.iop("add.u32", sK, bc * c.qStride());
        Reg sQ = c.qBytes() == 0 ? k.iop("add.u32", sK, c.stageBytes()) : smem;
        int eb = c.bf16() ? 2 : 4; // input element bytes
        Reg tid = k.special("%tid.x"), lane = k.iop("and.b32", tid, 31), warp = k.iop("shr.u32", tid, 5);
        Reg q0 = k.iop("mul.lo.s32", k.special("%ctaid.x"), BR), head = k.special("%ctaid.y"), chunk = k.special("%ctaid.z");
        Reg kvHead = k.iop("div.u32", head, group);
        Reg qBase = k.addr(q, k.iop("mul.lo.s32", head, D), eb);
        Reg kBase = k.addr(kp, k.iop("mul.lo.s32", kvHead, D), eb);
        Reg vCol0 = k.iop("mul.lo.s32", chunk, c.dChunk());
        Reg vBase = k.addr(vp, k.mad(kvHead, D, vCol0), eb);
        Reg vLim = k.iop("min.u32", k.iop("sub.u32", k.constU32(D), vCol0), c.dChunk()); // valid dims in this chunk
        Reg isCausal = k.setp("ne.u32", causal, 0);

        // Q tile (and with bf16 inputs the first K/V tile) → smem, then Q's fragments
        Reg dReg = k.constU32(D);
        if (c.bf16()) {
            copyTile(k, THREADS, tid, sQ, c.qStride(), BR, dp, qBase, ldq, q0, sq, dReg);
            copyTile(k, THREADS, tid, sK, c.qStride(), bc, dp, kBase, ldk, k.constU32(0), kvEnd, dReg);
            copyTile(k, THREADS, tid, sV, c.vStride(), bc, dcp, vBase, ldk, k.constU32(0), kvEnd, vLim);
            k.op("cp.async.commit_group");
            k.op("cp.async.wait_all");
        } else {
            loadTile(k, THREADS, tid, sQ, c.qStride(), BR, dp, qBase, ldq, q0, sq, dReg);
        }
        k.op("bar.sync", 0);
        Reg qLane = k.mad(k.mad(warp, 16, k.iop("and.b32", lane, 15)), c.qStride(), k.iop("shl.b32", k.iop("shr.u32", lane, 4), 4));
        Reg qAddr = k.iop("add.u32", sQ, qLane);
        Reg[][] qf = new Reg[nK][];
        if (c.qInRegs())
            for (int s = 0; s < nK; s++) {
                qf[s] = k.regs(PtxType.B32, 4);
                k.op("ldmatrix.sync.aligned.m8n8.x4.shared.b16", vec((Object[]) qf[s]), at(qAddr, s * 32L));
            }

        Reg[][] o = new Reg[nO][];
        for (int i = 0; i < nO; i++) {
            o[i] = k.regs(PtxType.F32, 4);
            for (Reg r : o[i]) k.op("mov.f32", r, Ptx.f32(0f));
        }
        Reg[] mRow = {k.constF32(Float.NEGATIVE_INFINITY), k.constF32(Float.NEGATIVE_INFINITY)};
        Reg[] lRow = {k.constF32(0f), k.constF32(0f)};
        Reg g = k.iop("shr.u32", lane, 2), t = k.iop("and.b32", lane, 3);
        Reg rowI = k.iop("add.u32", k.mad(warp, 16, q0), g); // query row of c0/c1; +8 for c2/c3

        // key range: [0, kvLimit)
        Reg kvLimit = k.reg(PtxType.B32);
        k.op("mov.u32", kvLimit, kvEnd);
        Reg causalLim = k.iop("min.u32", kvEnd, k.iop("add.u32", q0, BR));
        k.op("selp.b32", kvLimit, causalLim, kvLimit, isCausal);

        // per-lane ldmatrix offsets in the K tile (non-trans, rows = keys) and V tile (trans, rows = keys)
        Reg kRow = k.iop("add.u32", k.iop("and.b32", lane, 7), k.iop("shl.b32", k.iop("shr.u32", lane, 4), 3));
        Reg kAddr = k.iop("add.u32", sK, k.mad(kRow, c.qStride(), k.iop("shl.b32", k.iop("and.b32", k.iop("shr.u32", lane, 3), 1), 4)));
        Reg vRow = k.iop("add.u32", k.iop("and.b32", lane, 7), k.iop("shl.b32", k.iop("and.b32", k.iop("shr.u32", lane, 3), 1), 3));
        Reg vAddr = k.iop("add.u32", sV, k.mad(vRow, c.vStride(), k.iop("shl.b32", k.iop("shr.u32", lane, 4), 4)));

        Reg j0 = k.constU32(0);
        Reg stageOff = k.constU32(0);
        String top = k.newLabel("kv"), done = k.newLabel("kvdone");
        k.label(top);
        k.braIf(k.setp("ge.u32", j0, kvLimit), false, done);
        if (c.bf16()) {
            // tile j0 has landed (wait) and every warp is done with the stage the next tile overwrites (barrier)
            k.op("cp.async.wait_group", 0);
            k.op("bar.sync", 0);
            Reg nextJ = k.iop("add.u32", j0, bc);
            Reg other = k.iop("xor.b32", stageOff, c.stageBytes());
            k.ifThen(k.setp("lt.u32", nextJ, kvLimit), false, () -> {
                copyTile(k, THREADS, tid, k.iop("add.u32", sK, other), c.qStride(), bc, dp, kBase, ldk, nextJ, kvEnd, dReg);
                copyTile(k, THREADS, tid, k.iop("add.u32", sV, other), c.vStride(), bc, dcp, vBase, ldk, nextJ, kvEnd, vLim);
            });
            k.op("cp.async.commit_group");
        } else {
            k.op("bar.sync", 0);
            loadTile(k, THREADS, tid, sK, c.qStride(), bc, dp, kBase, ldk, j0, kvEnd, dReg);
            loadTile(k, THREADS, tid, sV, c.vStride(), bc, dcp, vBase, ldk, j0, kvEnd, vLim);
            k.op("bar.sync", 0);
        }
        Reg kSt = k.iop("add.u32", kAddr, stageOff), vSt = k.iop("add.u32", vAddr, stageOff);

        // S = Q·Kᵀ
        Reg[][] s = new Reg[nS][];
        for (int j = 0; j < nS; j++) {
            s[j] = k.regs(PtxType.F32, 4);
            for (Reg r : s[j]) k.op("mov.f32", r, Ptx.f32(0f));
        }
        for (int ks = 0; ks < nK; ks++) {
            Reg[] a = qf[ks];
            if (!c.qInRegs()) {
                a = k.regs(PtxType.B32, 4);
                k.op("ldmatrix.sync.aligned.m8n8.x4.shared.b16", vec((Object[]) a), at(qAddr, ks * 32L));
            }
            for (int j = 0; j < nS; j += 2) {
                Reg[] bf = k.regs(PtxType.B32, 4);
                k.op("ldmatrix.sync.aligned.m8n8.x4.shared.b16", vec((Object[]) bf), at(kSt, (long) j * 8 * c.qStride() + ks * 32L));
                GemmKernel.mma(k, s[j], a, bf[0], bf[1]);
                GemmKernel.mma(k, s[j + 1], a, bf[2], bf[3]);
            }
        }
        // scale into the log2 domain, then mask (only tiles that reach past kvEnd or the diagonal)
        for (Reg[] sj : s) for (Reg r : sj) k.op("mul.f32", r, r, scaleLog2);
        maskTile(k, j0, bc, nS, kvEnd, q0, rowI, t, isCausal, (n, h, e) -> s[n][2 * h + e]);
        // online softmax per row half h
        for (int h = 0; h < 2; h++) {
            Reg mx = k.reg(PtxType.F32);
            k.op("mov.f32", mx, mRow[h]);
            for (int j = 0; j < nS; j++) for (int e = 0; e < 2; e++) k.op("max.f32", mx, mx, s[j][2 * h + e]);
            Reg tmp = k.reg(PtxType.F32);
            for (int off = 1; off <= 2; off <<= 1) {
                k.op("shfl.sync.bfly.b32", tmp, mx, off, "0x1f", "0xffffffff");
                k.op("max.f32", mx, mx, tmp);
            }
            Reg use = k.reg(PtxType.F32);
            Reg allMasked = k.setp("eq.f32", mx, Ptx.f32(Float.NEGATIVE_INFINITY));
            k.op("selp.f32", use, Ptx.f32(0f), mx, allMasked);
            Reg alpha = k.fop("sub.f32", mRow[h], use);
            k.op("ex2.approx.ftz.f32", alpha, alpha);
            k.op("mov.f32", mRow[h], mx);
            k.op("mul.f32", lRow[h], lRow[h], alpha);
            for (int j = 0; j < nS; j++)
                for (int e = 0; e < 2; e++) {
                    Reg r = s[j][2 * h + e];
                    k.op("sub.f32", r, r, use);
                    k.op("ex2.approx.ftz.f32", r, r);
                    k.op("add.f32", lRow[h], lRow[h], r);
                }
            for (Reg[] oi : o) {
                k.op("mul.f32", oi[2 * h], oi[2 * h], alpha);
                k.op("mul.f32", oi[2 * h + 1], oi[2 * h + 1], alpha);
            }
        }
        // O += P·V: P's C fragments of key tiles (2kb, 2kb+1) are the A fragment over those 16 keys
        for (int kb = 0; kb < bc / 16; kb++) {
            Reg[] pa = k.regs(PtxType.B32, 4);
            k.op("cvt.rn.bf16x2.f32", pa[0], s[2 * kb][1], s[2 * kb][0]);
            k.op("cvt.rn.bf16x2.f32", pa[1], s[2 * kb][3], s[2 * kb][2]);
            k.op("cvt.rn.bf16x2.f32", pa[2], s[2 * kb + 1][1], s[2 * kb + 1][0]);
            k.op("cvt.rn.bf16x2.f32", pa[3], s[2 * kb + 1][3], s[2 * kb + 1][2]);
            for (int dt = 0; dt < nO; dt += 2) {
                Reg[] bf = k.regs(PtxType.B32, 4);
                k.op("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", vec((Object[]) bf), at(vSt, (long) kb * 16 * c.vStride() + dt * 16L));
                GemmKernel.mma(k, o[dt], pa, bf[0], bf[1]);
                GemmKernel.mma(k, o[dt + 1], pa, bf[2], bf[3]);
            }
        }
        k.op("add.u32", j0, j0, bc);
        if (c.bf16()) k.op("xor.b32", stageOff, stageOff, c.stageBytes());
        k.bra(top);
        k.label(done);

        // normalise and store (f32, or bf16 into an operand)
        int ob = c.outBytes();
        Reg oBase = k.addr(out, k.mad(head, D, vCol0), ob);
        Reg colT = k.iop("shl.b32", t, 1);
        for (int h = 0; h < 2; h++) {
            Reg inv = inverseRowSum(k, lRow[h]);
            Reg row = k.iop("add.u32", rowI, h * 8);
            Reg rowOk = k.setp("lt.u32", row, sq);
            Reg rowPtr = k.addr(oBase, k.iop("mul.lo.s32", row, ldo), ob);
            for (int dt = 0; dt < nO; dt++)
                for (int e = 0; e < 2; e++) {
                    Reg col = k.iop("add.u32", colT, dt * 8 + e);
                    Reg ok = k.reg(PtxType.PRED);
                    k.op("setp.lt.and.u32", ok, col, vLim, rowOk);
                    Reg v = k.fop("mul.f32", o[dt][2 * h + e], inv);
                    if (c.outBf16()) {
                        Reg hv = k.reg(PtxType.B16);
                        k.op("cvt.rn.bf16.f32", hv, v);
                        k.opIf(ok, false, "st.global.b16", at(k.addr(rowPtr, col, 2)), hv);
                    } else {
                        k.opIf(ok, false, "st.global.f32", at(k.addr(rowPtr, col, 4)), v);
                    }
                }
        }
        return k;
    }

    /**
     * The Hopper path (FlashAttention-3 style without a producer warpgroup, docs/cuda-notes §7, §10): each of
     * {@code warps/4} warpgroups owns 64 query rows. Q is read as f32, converted and stored once into 128-B-swizzled
     * shared memory; K and V tiles of {@code bc} keys stream in by {@code cp.async} (all threads) into two rings,
     * {@code prefetch} tiles ahead. Per tile j, after the tile is known to have landed (one CTA barrier per tile, or with
     * {@link Config#decoupled()} the stage's mbarriers, which let the warpgroups drift apart):
     * <ol>
     *   <li>issue S = Q·K<sub>j</sub>ᵀ ({@code wgmma} SS, both K-major), then O += P<sub>j−1</sub>·V<sub>j−1</sub> ({@code wgmma} RS:
     *       P in registers as A, V read MN-major through the descriptor's transpose bit);</li>
     *   <li>wait for S only: the softmax of tile j (max, {@code ex2} of one FMA with the scale·log2e folded in, row sums)
     *       runs while the tensor cores still do the P·V of tile j−1;</li>
     *   <li>wait for P·V, rescale O, pack the new P to bf16 (the accumulator layout of S is the A-fragment layout).</li>
     * </ol>
     * V's ring holds one tile more than K's because V<sub>j−1</sub> is still read while K<sub>j+prefetch</sub> lands (decoupled:
     * both rings prefetch+2, one stage index and barrier pair per tile). The P·V of
     * "tile −1" multiplies zeros (P starts at 0, its V stage is zero-filled) so the loop has no first-iteration branch.
     * Needs {@code scaleLog2 > 0} (the running max is kept on the raw scores). Grid and parameters as {@link #generate}.
     */
    static Ptx generateWgmma(Config c) {
        Ptx k = new Ptx(c.entry(), c.target());
        int T = c.threads(), WGS = c.warps() / 4, BR = c.br(), D = c.headDim(), DC = c.dChunk(), bc = c.bc(), PD = c.prefetch();
        int SK = c.kStages(), SV = PD + 2;
        boolean mb = c.decoupled();
        k.directive(".maxntid " + T + ", 1, 1");
        Reg out = k.paramPtr("out"), q = k.paramPtr("q"), kp = k.paramPtr("k"), vp = k.paramPtr("v");
        Reg sq = k.paramU32("Sq"), ldq = k.paramU32("ldq"), ldk = k.paramU32("ldk"), ldo = k.paramU32("ldo");
        Reg group = k.paramU32("group"), kvEnd = k.paramU32("kvEnd"), causal = k.paramU32("causal");
        Reg scaleLog2 = k.paramF32("scaleLog2");

        Reg dyn = k.dynamicShared("dyn", 1024);
        Reg smem = k.iop("add.u32", dyn, 1023);
        k.op("and.b32", smem, smem, 0xFFFFFC00); // 1024-B aligned: the 128-B swizzle repeats every 8 rows × 128 B
        int qBytes = BR * D * 2;
        Reg sK = k.iop("add.u32", smem, qBytes), sV = k.iop("add.u32", sK, SK * c.kTileBytes());
        // decoupled: full[s] at bars + 8s, empty[s] at bars + 8(SV + s)
        Reg bars = k.iop("add.u32", sV, SV * c.vTileBytes());
        Reg tid = k.special("%tid.x"), lane = k.iop("and.b32", tid, 31), warp = k.iop("shr.u32", tid, 5);
        Reg wg = k.iop("shr.u32", tid, 7), wl = k.iop("and.b32", warp, 3);
        Reg g = k.iop("shr.u32", lane, 2), t = k.iop("and.b32", lane, 3);
        Reg q0 = k.iop("mul.lo.s32", k.special("%ctaid.x"), BR), head = k.special("%ctaid.y"), chunk = k.special("%ctaid.z");
        Reg kvHead = k.iop("div.u32", head, group);
        Reg vCol0 = k.iop("mul.lo.s32", chunk, DC);
        Reg qBase = k.addr(q, k.iop("mul.lo.s32", head, D), 4);
        Reg kBase = k.addr(kp, k.iop("mul.lo.s32", kvHead, D), 2);
        Reg vBase = k.addr(vp, k.mad(kvHead, D, vCol0), 2);
        Reg isCausal = k.setp("ne.u32", causal, 0);
        Reg kvLimit = k.reg(PtxType.B32);
        k.op("mov.u32", kvLimit, kvEnd);
        k.opIf(isCausal, false, "min.u32", kvLimit, kvEnd, k.iop("add.u32", q0, BR));
        Reg nT = k.iop("add.u32", kvLimit, bc - 1);
        k.op("div.u32", nT, nT, bc);

        // Q: f32 → bf16 into the swizzled tile (the caller's conversion pass fused away)
        loadQ(k, T, tid, smem, BR, D, qBase, ldq, q0, sq);

        // loaders of one K / V tile (per-thread pointers fixed once, advanced per tile)
        SwizzledLoader kLoad = new SwizzledLoader(k, T, tid, bc, D, kBase, ldk);
        SwizzledLoader vLoad = new SwizzledLoader(k, T, tid, bc, DC, vBase, ldk);
        Reg zeroRow = k.constU32(0);
        Reg lane0 = mb ? k.setp("eq.u32", lane, 0) : null;
        if (mb) {
            // barriers: full[s] completes when all T threads' copies into stage s landed; empty[s] when every warp is done with it
            k.ifThen(k.setp("eq.u32", tid, 0), false, () -> {
                for (int st = 0; st < SV; st++) {
                    k.op("mbarrier.init.shared::cta.b64", at(bars, 8L * st), T);
                    k.op("mbarrier.init.shared::cta.b64", at(bars, 8L * (SV + st)), T / 32);
                }
            });
            // V stage SV−1 holds "tile −1": zeros, stored directly (its P·V multiplies P = 0); its release counts as
            // that stage's first, so the producer's wait below uses (tile + 1) / stages completed releases
            Reg zv = k.iop("add.u32", sV, (SV - 1) * c.vTileBytes());
            Reg z = k.constU32(0);
            k.forLoop(k.iop("shl.b32", tid, 4), c.vTileBytes(), T * 16, i -> k.op("st.shared.v4.b32", at(k.iop("add.u32", zv, i)), vec(z, z, z, z)));
            k.op("fence.proxy.async.shared::cta");
            k.op("bar.sync", 0);
        } else {
            // V stage SV−1 holds "tile −1": zeros (every row out of range)
            vLoad.issue(k.iop("add.u32", sV, (SV - 1) * c.vTileBytes()), k.constU32(0), k.constU32(0));
        }
        for (int p = 0; p < PD; p++) {
            Reg j0 = k.constU32(p * bc);
            Reg live = k.setp("lt.u32", k.constU32(p), nT);
            Reg lim = k.reg(PtxType.B32);
            k.op("selp.b32", lim, kvEnd, zeroRow, live); // past the last tile: zero-fill instead of reading
            kLoad.issue(k.iop("add.u32", sK, p * c.kTileBytes()), j0, lim);
            vLoad.issue(k.iop("add.u32", sV, p * c.vTileBytes()), j0, lim);
            if (mb) k.op("cp.async.mbarrier.arrive.noinc.shared::cta.b64", at(bars, 8L * p));
            else k.op("cp.async.commit_group");
        }

        // descriptors: K-major 128-B swizzle (Q as A, K as B), SBO 1024; V as MN-major B: LBO = one 64-column panel
        long hiK = (1L << 16) | ((1024L >> 4) << 32) | (1L << 62);
        long hiV = ((long) (bc * 128 >> 4) << 16) | ((1024L >> 4) << 32) | (1L << 62);
        Reg descQ = GemmKernel.desc(k, k.iop("add.u32", smem, k.iop("mul.lo.s32", wg, 64 * 128)), hiK);
        Reg descK0 = GemmKernel.desc(k, sK, hiK), descV0 = GemmKernel.desc(k, sV, hiV);
        Reg pTrue = k.setp("eq.u32", tid, tid), pFalse = k.setp("ne.u32", tid, tid);

        Reg[] S = k.regs(PtxType.F32, bc / 2), O = k.regs(PtxType.F32, DC / 2), P = k.regs(PtxType.B32, bc / 4);
        for (Reg r : O) k.op("mov.f32", r, Ptx.f32(0f));
        for (Reg r : P) k.op("mov.b32", r, 0);
        Reg[] mRow = {k.constF32(Float.NEGATIVE_INFINITY), k.constF32(Float.NEGATIVE_INFINITY)};
        Reg[] lRow = {k.constF32(0f), k.constF32(0f)};
        Reg rowI = k.iop("add.u32", k.iop("add.u32", q0, k.mad(wg, 64, k.iop("mul.lo.s32", wl, 16))), g); // row of S/O regs with h = 0

        Reg j = k.constU32(0);
        Reg kRead = k.constU32(0), vPrev = k.constU32((SV - 1) * c.vTileBytes() / 16); // stage offsets (K bytes, V in 16-B units)
        Reg kWrite = k.constU32(PD % SK * c.kTileBytes()), vWrite = k.constU32(PD % SV * c.vTileBytes());
        Reg rStage = mb ? k.constU32(0) : null, pStage = mb ? k.constU32(SV - 1) : null, wStage = mb ? k.constU32(PD) : null; // decoupled: stages of tiles j, j−1, j+PD
        String top = k.newLabel("kv"), done = k.newLabel("kvdone");
        k.label(top);
        k.braIf(k.setp("ge.u32", j, nT), false, done);
        Reg jl = k.iop("add.u32", j, PD);
        if (mb) {
            // producer part: tile j+PD into stage wStage once its previous occupant is released ((j+PD+1)/SV releases so far)
            Reg parity = k.iop("div.u32", k.iop("add.u32", jl, 1), SV);
            k.op("add.u32", parity, parity, 1);
            k.op("and.b32", parity, parity, 1);
            k.waitMbarrier(k.mad(wStage, 8, k.iop("add.u32", bars, 8 * SV)), parity);
        } else {
            k.op("cp.async.wait_group", PD - 1); // tile j has landed (this thread's copies) …
            k.op("fence.proxy.async.shared::cta"); // … and is visible to the async proxy (wgmma) …
            k.op("bar.sync", 0); // … for every thread; everyone is also past tile j−1's S and tile j−2's P·V
        }
        {
            Reg live = k.setp("lt.u32", jl, nT);
            Reg lim = k.reg(PtxType.B32);
            k.op("selp.b32", lim, kvEnd, zeroRow, live);
            Reg jl0 = k.iop("mul.lo.s32", jl, bc);
            kLoad.issue(k.iop("add.u32", sK, kWrite), jl0, lim);
            vLoad.issue(k.iop("add.u32", sV, vWrite), jl0, lim);
            if (mb) k.op("cp.async.mbarrier.arrive.noinc.shared::cta.b64", at(k.mad(wStage, 8, bars)));
            else k.op("cp.async.commit_group");
        }
        if (mb) { // consumer part: tile j landed (its (j/SV)-th fill of the stage)
            Reg parity = k.iop("div.u32", j, SV);
            k.op("and.b32", parity, parity, 1);
            k.waitMbarrier(k.mad(rStage, 8, bars), parity);
            k.op("fence.proxy.async.shared::cta");
        }
        Reg dK = k.reg(PtxType.B64), dV = k.reg(PtxType.B64);
        k.op("cvt.u64.u32", dK, k.iop("shr.u32", kRead, 4));
        k.op("add.s64", dK, dK, descK0);
        k.op("cvt.u64.u32", dV, vPrev);
        k.op("add.s64", dV, dV, descV0);
        k.op("wgmma.fence.sync.aligned");
        qkT(k, S, descQ, dK, D, BR, bc, pTrue, pFalse);
        k.op("wgmma.commit_group.sync.aligned");
        pv(k, O, P, dV, c, pTrue);
        k.op("wgmma.commit_group.sync.aligned");
        k.op("wgmma.wait_group.sync.aligned", 1); // S ready; P·V of tile j−1 still running

        // mask (only tiles reaching past kvEnd or, when causal, past the CTA's first row)
        Reg j0 = k.iop("mul.lo.s32", j, bc);
        maskTile(k, j0, bc, bc / 8, kvEnd, q0, rowI, t, isCausal, (n, h, e) -> S[4 * n + 2 * h + e]);
        // online softmax, per row half h: S[4n + 2h + e] is row g + 8h, column 8n + 2t + e
        Reg[] alpha = new Reg[2];
        for (int h = 0; h < 2; h++) {
            Reg mx = k.reg(PtxType.F32);
            k.op("mov.f32", mx, mRow[h]);
            for (int n = 0; n < bc / 8; n++) for (int e = 0; e < 2; e++) k.op("max.f32", mx, mx, S[4 * n + 2 * h + e]);
            Reg tmp = k.reg(PtxType.F32);
            for (int off = 1; off <= 2; off <<= 1) {
                k.op("shfl.sync.bfly.b32", tmp, mx, off, "0x1f", "0xffffffff");
                k.op("max.f32", mx, mx, tmp);
            }
            Reg negM = k.fop("mul.f32", mx, scaleLog2); // max·scale·log2e
            Reg allMasked = k.setp("eq.f32", mx, Ptx.f32(Float.NEGATIVE_INFINITY));
            k.opIf(allMasked, false, "mov.f32", negM, Ptx.f32(0f));
            k.op("neg.f32", negM, negM);
            alpha[h] = k.reg(PtxType.F32);
            k.op("fma.rn.f32", alpha[h], mRow[h], scaleLog2, negM); // (m_old − m_new)·scale·log2e; −inf on the first tile
            k.op("ex2.approx.ftz.f32", alpha[h], alpha[h]);
            k.op("mov.f32", mRow[h], mx);
            k.op("mul.f32", lRow[h], lRow[h], alpha[h]);
            for (int n = 0; n < bc / 8; n++)
                for (int e = 0; e < 2; e++) {
                    Reg r = S[4 * n + 2 * h + e];
                    k.op("fma.rn.f32", r, r, scaleLog2, negM);
                    k.op("ex2.approx.ftz.f32", r, r);
                    k.op("add.f32", lRow[h], lRow[h], r);
                }
        }
        k.op("wgmma.wait_group.sync.aligned", 0); // P·V of tile j−1 done: O and P are free
        if (mb) { // this warp is done with stage j−1 (K since the S wait of the last iteration, V now)
            Reg st = k.reg(PtxType.B64);
            k.opIf(lane0, false, "mbarrier.arrive.shared::cta.b64", st, at(k.mad(pStage, 8, k.iop("add.u32", bars, 8 * SV))));
        }
        for (int i = 0; i < DC / 2; i++) k.op("mul.f32", O[i], O[i], alpha[(i >> 1) & 1]);
        // P as the A fragment of k-step kk: (row g, keys 16kk+2t..), (row g+8, same), (row g, keys 16kk+8+2t..), (row g+8, same)
        for (int i = 0; i < bc / 4; i++) k.op("cvt.rn.bf16x2.f32", P[i], S[2 * i + 1], S[2 * i]);
        // advance the rings: K read stage (bytes), V stage of tile j (16-B units, the descriptor's), K/V write stages
        ring(k, kRead, c.kTileBytes(), SK);
        ring(k, vPrev, c.vTileBytes() / 16, SV);
        ring(k, kWrite, c.kTileBytes(), SK);
        ring(k, vWrite, c.vTileBytes(), SV);
        if (mb) for (Reg r : new Reg[]{rStage, pStage, wStage}) ring(k, r, 1, SV);
        k.op("add.u32", j, j, 1);
        k.bra(top);
        k.label(done);

        // the last tile's P·V
        Reg dVl = k.reg(PtxType.B64);
        k.op("cvt.u64.u32", dVl, vPrev);
        k.op("add.s64", dVl, dVl, descV0);
        k.op("wgmma.fence.sync.aligned");
        pv(k, O, P, dVl, c, pTrue);
        k.op("wgmma.commit_group.sync.aligned");
        k.op("wgmma.wait_group.sync.aligned", 0);
        k.op("cp.async.wait_all");

        // normalise and store: two adjacent columns per store (f32: 8 B; bf16 into an operand: one 4-B bf16x2 word)
        int ob = c.outBytes();
        Reg oBase = k.addr(out, k.mad(head, D, vCol0), ob);
        Reg colT = k.iop("shl.b32", t, 1);
        for (int h = 0; h < 2; h++) {
            Reg inv = inverseRowSum(k, lRow[h]);
            Reg row = k.iop("add.u32", rowI, h * 8);
            Reg rowOk = k.setp("lt.u32", row, sq);
            Reg rowPtr = k.addr(oBase, k.mad(row, ldo, colT), ob);
            for (int n = 0; n < DC / 8; n++) {
                Reg v0 = k.fop("mul.f32", O[4 * n + 2 * h], inv), v1 = k.fop("mul.f32", O[4 * n + 2 * h + 1], inv);
                if (c.outBf16()) {
                    Reg packed = k.reg(PtxType.B32);
                    k.op("cvt.rn.bf16x2.f32", packed, v1, v0); // column 2t in the low half (the lower address)
                    k.opIf(rowOk, false, "st.global.b32", at(rowPtr, n * 8L * ob), packed);
                } else {
                    k.opIf(rowOk, false, "st.global.v2.f32", at(rowPtr, n * 8L * ob), vec(v0, v1));
                }
            }
        }
        return k;
    }


    /** {@code r = (r + step) mod (step·n)}. */
    private static void ring(Ptx k, Reg r, int step, int n) {
        k.op("add.u32", r, r, step);
        k.opIf(k.setp("ge.u32", r, step * n), false, "mov.u32", r, 0);
    }

    /** S = Q·Kᵀ for this warpgroup's 64 rows: D/16 {@code wgmma m64n{bc}k16}, both operands K-major in 64-column swizzled panels. */
    private static void qkT(Ptx k, Reg[] S, Reg descQ, Reg descK, int D, int BR, int bc, Reg pTrue, Reg pFalse) {
        for (int ks = 0; ks < D / 16; ks++) {
            int panel = ks / 4, within = ks % 4;
            Reg dA = k.reg(PtxType.B64), dB = k.reg(PtxType.B64);
            k.op("add.s64", dA, descQ, (panel * BR * 128 + within * 32) / 16);
            k.op("add.s64", dB, descK, (panel * bc * 128 + within * 32) / 16);
            k.op("wgmma.mma_async.sync.aligned.m64n" + bc + "k16.f32.bf16.bf16", vec((Object[]) S), dA, dB, ks == 0 ? pFalse : pTrue, 1, 1, 0, 0);
        }
    }

    /** O += P·V: bc/16 {@code wgmma m64n{dChunk}k16} with P's registers as A and V (keys × dims, dims contiguous) as a transposed B. */
    private static void pv(Ptx k, Reg[] O, Reg[] P, Reg descV, Config c, Reg pTrue) {
        for (int kk = 0; kk < c.bc() / 16; kk++) {
            Reg dB = k.reg(PtxType.B64);
            k.op("add.s64", dB, descV, kk * 16 * 128 / 16); // 16 keys = two 8-row groups of 1024 B
            k.op("wgmma.mma_async.sync.aligned.m64n" + c.dChunk() + "k16.f32.bf16.bf16", vec((Object[]) O),
                    vec(P[4 * kk], P[4 * kk + 1], P[4 * kk + 2], P[4 * kk + 3]), dB, pTrue, 1, 1, 1);
        }
    }

    /**
     * Q rows {@code q0 …} of one head, f32 in global memory, into shared memory as bf16 in the 128-B-swizzled K-major
     * layout (64-column panels of {@code rows·128} bytes; chunk c of row r at chunk {@code c ^ (r mod 8)}), zeros past {@code sq}.
     * Followed by the proxy fence: wgmma reads this through the async proxy.
     */
    private static void loadQ(Ptx k, int T, Reg tid, Reg smem, int rows, int cols, Reg qBase, Reg ldq, Reg q0, Reg sq) {
        int C = cols / 8, R = T / C;
        Reg ch = k.iop("rem.u32", tid, C), r0 = k.iop("div.u32", tid, C);
        Reg left = k.iop("sub.s32", k.iop("sub.s32", sq, q0), r0);
        Reg g = k.addr(qBase, k.mad(k.iop("add.u32", q0, r0), ldq, k.iop("shl.b32", ch, 3)), 4);
        Reg step = k.reg(PtxType.B64);
        k.op("mul.wide.u32", step, ldq, 4 * R);
        Reg panelBase = k.iop("add.u32", smem, k.iop("mul.lo.s32", k.iop("shr.u32", ch, 3), rows * 128));
        Reg cc = k.iop("and.b32", ch, 7);
        for (int p = 0; p < rows / R; p++) {
            Reg r = k.iop("add.u32", r0, p * R);
            Reg ok = k.setp("gt.s32", left, p * R);
            Reg[] f = k.regs(PtxType.F32, 8);
            for (Reg x : f) k.op("mov.f32", x, Ptx.f32(0f));
            k.opIf(ok, false, "ld.global.nc.v4.f32", vec(f[0], f[1], f[2], f[3]), at(g));
            k.opIf(ok, false, "ld.global.nc.v4.f32", vec(f[4], f[5], f[6], f[7]), at(g, 16));
            Reg[] hb = k.regs(PtxType.B32, 4);
            for (int i = 0; i < 4; i++) k.op("cvt.rn.bf16x2.f32", hb[i], f[2 * i + 1], f[2 * i]);
            Reg sw = k.iop("xor.b32", cc, k.iop("and.b32", r, 7));
            Reg dst = k.iop("add.u32", panelBase, k.mad(r, 128, k.iop("shl.b32", sw, 4)));
            k.op("st.shared.v4.b32", at(dst), vec((Object[]) hb));
            if (p + 1 < rows / R) k.op("add.s64", g, g, step);
        }
        k.op("fence.proxy.async.shared::cta");
    }

    /**
     * The per-thread part of a K or V tile load ({@code rows} keys × {@code cols} bf16, cols a multiple of 64) into the
     * 128-B-swizzled layout, 16 B per {@code cp.async}, zero-filled at keys past the limit. The thread's chunk column, first
     * row and source pointer are fixed once; {@link #issue} only adds the tile's row offset.
     */
    private static final class SwizzledLoader {
        final Ptx k;
        final int rows, R, passes;
        final Reg r0, gThread, ldBytesR, dstThread, ldk, base;
        final boolean constSwizzle;
        final Reg cc;

        SwizzledLoader(Ptx k, int T, Reg tid, int rows, int cols, Reg base, Reg ldk) {
            this.k = k;
            this.rows = rows;
            this.ldk = ldk;
            this.base = base;
            int C = cols / 8;
            R = T / C;
            passes = (rows + R - 1) / R;
            Reg ch = k.iop("rem.u32", tid, C);
            r0 = k.iop("div.u32", tid, C);
            gThread = k.addr(base, k.mad(r0, ldk, k.iop("shl.b32", ch, 3)), 2);
            ldBytesR = k.reg(PtxType.B64);
            k.op("mul.wide.u32", ldBytesR, ldk, 2 * R);
            cc = k.iop("and.b32", ch, 7);
            constSwizzle = R % 8 == 0;
            // offset inside the tile: panel, row r0, and (when every pass keeps r mod 8) the swizzled chunk
            Reg off = k.mad(k.iop("shr.u32", ch, 3), rows * 128, k.iop("mul.lo.s32", r0, 128));
            if (constSwizzle) k.op("add.u32", off, off, k.iop("shl.b32", k.iop("xor.b32", cc, k.iop("and.b32", r0, 7)), 4));
            dstThread = off;
        }

        /** Copies keys {@code j0 …} (those {@code >= limit} zero-filled) into the tile at shared address {@code tile}; the caller commits. */
        void issue(Reg tile, Reg j0, Reg limit) {
            Reg left = k.iop("sub.s32", k.iop("sub.s32", limit, j0), r0);
            Reg g = k.reg(PtxType.B64);
            k.op("mul.wide.u32", g, j0, ldk);
            k.op("shl.b64", g, g, 1);
            k.op("add.s64", g, g, gThread);
            Reg d = k.iop("add.u32", tile, dstThread);
            for (int p = 0; p < passes; p++) {
                Reg ok = k.setp("gt.s32", left, p * R);
                if ((p + 1) * R > rows) { // last, partial pass: rows past the tile are not copied at all
                    Reg inTile = k.setp("lt.u32", r0, rows - p * R);
                    String skip = k.newLabel("rowskip");
                    k.braIf(inTile, true, skip);
                    copy(g, d, p, ok);
                    k.label(skip);
                } else {
                    copy(g, d, p, ok);
                }
                if (p + 1 < passes) k.op("add.s64", g, g, ldBytesR);
            }
        }

        private void copy(Reg g, Reg d, int p, Reg ok) {
            Reg ga = k.reg(PtxType.B64), bytes = k.reg(PtxType.B32);
            k.op("selp.b64", ga, g, base, ok); // zero-filled copies read nothing, but keep the address inside the tensor
            k.op("selp.b32", bytes, 16, 0, ok);
            Reg dst = d;
            long imm = (long) p * R * 128;
            if (!constSwizzle) {
                Reg r = k.iop("add.u32", r0, p * R);
                dst = k.iop("add.u32", d, k.iop("shl.b32", k.iop("xor.b32", cc, k.iop("and.b32", r, 7)), 4));
            }
            k.op("cp.async.cg.shared.global", at(dst, imm), at(ga), 16, bytes);
        }
    }

    /**
     * Cooperative asynchronous copy of a bf16 tile {@code rows × cols} (cols a multiple of 8) starting at global
     * row {@code row0} into shared memory at {@code dst} (row stride {@code stride} bytes), 16 B per
     * {@code cp.async}; chunks in rows {@code >= rowLimit} or at columns {@code >= colLimit} are zero-filled.
     * The caller commits the group.
     */
    private static void copyTile(Ptx k, int THREADS, Reg tid, Reg dst, int stride, int rows, int cols, Reg src, Reg ld, Reg row0, Reg rowLimit, Reg colLimit) {
        int chunks = cols / 8;
        if (THREADS % chunks == 0 && rows % (THREADS / chunks) == 0) {
            // unrolled: thread t copies chunk t mod chunks of rows t/chunks + p·R (R = threads/chunks); per pass the
            // global pointer advances by R rows and the shared address by a constant, so only the row test varies
            int R = THREADS / chunks;
            Reg ch = k.iop("rem.u32", tid, chunks), r0 = k.iop("div.u32", tid, chunks);
            Reg colOk = k.setp("lt.u32", k.iop("shl.b32", ch, 3), colLimit);
            Reg gRow = k.iop("add.u32", row0, r0);
            Reg left = k.iop("sub.s32", rowLimit, gRow); // rows still valid from this thread's first row (may be ≤ 0)
            Reg g = k.addr(src, k.mad(gRow, ld, k.iop("shl.b32", ch, 3)), 2);
            Reg step = k.reg(PtxType.B64);
            k.op("mul.wide.u32", step, ld, 2 * R);
            Reg d = k.iop("add.u32", dst, k.mad(r0, stride, k.iop("shl.b32", ch, 4)));
            for (int p = 0; p < rows / R; p++) {
                Reg ok = k.reg(PtxType.PRED);
                k.op("setp.gt.and.s32", ok, left, p * R, colOk);
                Reg ga = k.reg(PtxType.B64), bytes = k.reg(PtxType.B32);
                k.op("selp.b64", ga, g, src, ok);
                k.op("selp.b32", bytes, 16, 0, ok);
                k.op("cp.async.cg.shared.global", at(d, (long) p * R * stride), at(ga), 16, bytes);
                if (p + 1 < rows / R) k.op("add.s64", g, g, step);
            }
            return;
        }
        k.forLoop(tid, rows * chunks, THREADS, i -> {
            Reg r = k.iop("div.u32", i, chunks), ch = k.iop("rem.u32", i, chunks);
            Reg col = k.iop("shl.b32", ch, 3);
            Reg gRow = k.iop("add.u32", row0, r);
            Reg ok = k.reg(PtxType.PRED);
            k.op("setp.lt.and.u32", ok, col, colLimit, k.setp("lt.u32", gRow, rowLimit));
            Reg g = k.reg(PtxType.B64);
            k.op("selp.b64", g, k.addr(src, k.mad(gRow, ld, col), 2), src, ok);
            Reg bytes = k.reg(PtxType.B32);
            k.op("selp.b32", bytes, 16, 0, ok);
            k.op("cp.async.cg.shared.global", at(k.iop("add.u32", dst, k.mad(r, stride, k.iop("shl.b32", ch, 4)))), at(g), 16, bytes);
        });
    }

    /**
     * Cooperative load of an f32 tile {@code rows × cols} (cols even) starting at global row {@code row0}
     * into bf16 shared memory at {@code dst} (row stride {@code stride} bytes); rows {@code >= rowLimit}
     * and columns {@code >= colLimit} are zero-filled.
     */
    private static void loadTile(Ptx k, int THREADS, Reg tid, Reg dst, int stride, int rows, int cols, Reg src, Reg ld, Reg row0, Reg rowLimit, Reg colLimit) {
        int pairs = cols / 2;
        k.forLoop(tid, rows * pairs, THREADS, i -> {
            Reg r = k.iop("div.u32", i, pairs), cp = k.iop("rem.u32", i, pairs);
            Reg col = k.iop("shl.b32", cp, 1);
            Reg gRow = k.iop("add.u32", row0, r);
            Reg rowOk = k.setp("lt.u32", gRow, rowLimit);
            Reg ok0 = k.reg(PtxType.PRED), ok1 = k.reg(PtxType.PRED);
            k.op("setp.lt.and.u32", ok0, col, colLimit, rowOk);
            k.op("setp.lt.and.u32", ok1, k.iop("add.u32", col, 1), colLimit, rowOk);
            Reg p = k.addr(src, k.mad(gRow, ld, col), 4);
            Reg x0 = k.constF32(0f), x1 = k.constF32(0f);
            k.opIf(ok0, false, "ld.global.f32", x0, at(p));
            k.opIf(ok1, false, "ld.global.f32", x1, at(p, 4));
            Reg packed = k.reg(PtxType.B32);
            k.op("cvt.rn.bf16x2.f32", packed, x1, x0);
            k.op("st.shared.b32", at(k.iop("add.u32", dst, k.mad(r, stride, k.iop("shl.b32", cp, 2)))), packed);
        });
    }
    /** The score register of fragment n (8 key columns), row half h (rows g, g + 8), column e of the lane's pair. */
    @FunctionalInterface
    private interface ScoreAt {
        Reg at(int n, int h, int e);
    }

    /**
     * Sets to −∞ the scores of a key tile starting at key {@code j0} whose key is past {@code kvEnd} (padding) or,
     * when causal, after the query row; only tiles reaching past kvEnd or past the CTA's first row {@code q0} pay for
     * it. Lane layout of mma / wgmma accumulators: fragment n, row {@code rowI + 8h}, column {@code j0 + 8n + 2t + e}.
     */
    private static void maskTile(Ptx k, Reg j0, int bc, int fragments, Reg kvEnd, Reg q0, Reg rowI, Reg t, Reg isCausal, ScoreAt score) {
        Reg tileEnd = k.iop("add.u32", j0, bc);
        Reg needMask = k.setp("gt.u32", tileEnd, kvEnd);
        Reg diag = k.reg(PtxType.PRED);
        k.op("setp.gt.and.u32", diag, tileEnd, q0, isCausal);
        k.op("or.pred", needMask, needMask, diag);
        k.ifThen(needMask, false, () -> {
            Reg colBase = k.iop("add.u32", j0, k.iop("shl.b32", t, 1));
            for (int n = 0; n < fragments; n++)
                for (int e = 0; e < 2; e++) {
                    Reg col = k.iop("add.u32", colBase, n * 8 + e);
                    Reg beyond = k.setp("ge.u32", col, kvEnd);
                    for (int h = 0; h < 2; h++) {
                        Reg row = k.iop("add.u32", rowI, h * 8);
                        Reg future = k.reg(PtxType.PRED);
                        k.op("setp.gt.and.u32", future, col, row, isCausal);
                        k.op("or.pred", future, future, beyond);
                        k.opIf(future, false, "mov.f32", score.at(n, h, e), Ptx.f32(Float.NEGATIVE_INFINITY));
                    }
                }
        });
    }

    /**
     * 1 / (the row's softmax denominator): {@code l} holds one quad lane's partial sum (the 4 lanes of a quad share
     * a row in the mma / wgmma accumulator layouts); 0 for a row with no valid key (fully masked: output 0).
     */
    private static Reg inverseRowSum(Ptx k, Reg l) {
        Reg tmp = k.reg(PtxType.F32);
        for (int off = 1; off <= 2; off <<= 1) {
            k.op("shfl.sync.bfly.b32", tmp, l, off, "0x1f", "0xffffffff");
            k.op("add.f32", l, l, tmp);
        }
        Reg inv = k.reg(PtxType.F32);
        k.op("rcp.rn.f32", inv, l);
        Reg empty = k.setp("eq.f32", l, Ptx.f32(0f));
        k.op("selp.f32", inv, Ptx.f32(0f), inv, empty);
        return inv;
    }

}
