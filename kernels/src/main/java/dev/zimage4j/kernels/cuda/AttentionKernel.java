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
     * @param qInRegs  keep Q's fragments in registers for the whole loop
     * @param warps    warps per CTA; the CTA owns {@code 16·warps} query rows
     * @param bf16     Q, K, V arrive as bf16 (converted once by the caller, head dim a multiple of 8): tiles
     *                 stream in by {@code cp.async}, K/V double-buffered so the next tile loads during this one's math;
     *                 otherwise f32 inputs are converted on the way into a single stage
     */
    record Config(int headDim, int dChunk, int bc, boolean qInRegs, int warps, boolean bf16) {
        Config {
            if (bf16 && headDim % 8 != 0) throw new IllegalArgumentException("bf16 attention needs a head dim multiple of 8, got " + headDim);
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

        /** Dynamic shared memory. */
        int smemBytes() {
            return qBytes() + stages() * stageBytes();
        }

        String entry() {
            return "attention_d" + headDim + "_c" + dChunk + "_bc" + bc + "_w" + warps + (qInRegs ? "_qreg" : "_qsmem") + (bf16 ? "_bf16" : "_f32");
        }
    }

    /** The variant for head dim {@code d}, bf16 inputs where the dim allows. */
    static Config config(int d, boolean bf16) {
        return d <= 128 ? new Config(d, d, 64, true, 4, bf16) : new Config(d, 128, bf16 ? 32 : 64, false, 4, bf16);
    }

    /** Tile shapes the benchmark sweeps for head dim 128 (bf16 inputs). */
    static List<Config> candidates128() {
        return List.of(config(128, true), new Config(128, 128, 128, true, 4, true), new Config(128, 128, 64, true, 8, true),
                new Config(128, 128, 32, true, 4, true));
    }

    /** Variants for dump-ptx: the model's head dims (DiT 128, Qwen3 128, VAE 512) and small test dims. */
    static List<Config> allConfigs() {
        List<Config> out = new java.util.ArrayList<>();
        for (int d : new int[]{16, 32, 64, 128, 512}) {
            out.add(config(d, true));
            out.add(config(d, false));
        }
        out.add(config(20, false));
        for (Config c : candidates128()) if (!out.contains(c)) out.add(c);
        return out;
    }

    /**
     * {@code entry(out, q, k, v, Sq, ldq, ldk, ldo, group, kvEnd, causal, scaleLog2)}. Grid
     * {@code (ceil(Sq/br), heads, chunks)}, {@link Config#threads()} threads, {@link Config#smemBytes()} dynamic smem.
     */
    static Ptx generate(Config c) {
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
        Reg tileEnd = k.iop("add.u32", j0, bc);
        Reg needMask = k.setp("gt.u32", tileEnd, kvEnd);
        Reg diag = k.reg(PtxType.PRED);
        k.op("setp.gt.and.u32", diag, tileEnd, q0, isCausal);
        k.op("or.pred", needMask, needMask, diag);
        k.ifThen(needMask, false, () -> {
            Reg colBase = k.iop("add.u32", j0, k.iop("shl.b32", t, 1));
            for (int j = 0; j < nS; j++)
                for (int e = 0; e < 2; e++) {
                    Reg col = k.iop("add.u32", colBase, j * 8 + e);
                    Reg beyond = k.setp("ge.u32", col, kvEnd);
                    for (int h = 0; h < 2; h++) {
                        Reg row = k.iop("add.u32", rowI, h * 8);
                        Reg future = k.reg(PtxType.PRED);
                        k.op("setp.gt.and.u32", future, col, row, isCausal);
                        k.op("or.pred", future, future, beyond);
                        k.opIf(future, false, "mov.f32", s[j][2 * h + e], Ptx.f32(Float.NEGATIVE_INFINITY));
                    }
                }
        });
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

        // normalise and store
        Reg oBase = k.addr(out, k.mad(head, D, vCol0), 4);
        Reg colT = k.iop("shl.b32", t, 1);
        for (int h = 0; h < 2; h++) {
            Reg l = lRow[h], tmp = k.reg(PtxType.F32);
            for (int off = 1; off <= 2; off <<= 1) {
                k.op("shfl.sync.bfly.b32", tmp, l, off, "0x1f", "0xffffffff");
                k.op("add.f32", l, l, tmp);
            }
            Reg inv = k.reg(PtxType.F32);
            k.op("rcp.rn.f32", inv, l);
            Reg empty = k.setp("eq.f32", l, Ptx.f32(0f));
            k.op("selp.f32", inv, Ptx.f32(0f), inv, empty);
            Reg row = k.iop("add.u32", rowI, h * 8);
            Reg rowOk = k.setp("lt.u32", row, sq);
            Reg rowPtr = k.addr(oBase, k.iop("mul.lo.s32", row, ldo), 4);
            for (int dt = 0; dt < nO; dt++)
                for (int e = 0; e < 2; e++) {
                    Reg col = k.iop("add.u32", colT, dt * 8 + e);
                    Reg ok = k.reg(PtxType.PRED);
                    k.op("setp.lt.and.u32", ok, col, vLim, rowOk);
                    Reg v = k.fop("mul.f32", o[dt][2 * h + e], inv);
                    k.opIf(ok, false, "st.global.f32", at(k.addr(rowPtr, col, 4)), v);
                }
        }
        return k;
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
}
