package dev.zimage4j.dit;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Rope;
import dev.zimage4j.kernels.Tensor;

/**
 * One Z-Image transformer block (spec §2.3), modulated (noise refiner, main layers) or not (context
 * refiner), applied in place to a row range {@code x [S, d]} of the joint sequence.
 *
 * <pre>
 *   m = W_ada·temb + b                         (modulated only: scale_msa, gate_msa, scale_mlp, gate_mlp)
 *   a = RMSNorm₁(x) ⊙ (1 + scale_msa)
 *   q, k, v = Wq·a, Wk·a, Wv·a ;  q, k = RoPE(RMSNorm_q(q)), RoPE(RMSNorm_k(k))   (per head)
 *   x = x + tanh(gate_msa) ⊙ RMSNorm₂(Wo·Attention(q, k, v))
 *   b = RMSNorm₃(x) ⊙ (1 + scale_mlp)
 *   x = x + tanh(gate_mlp) ⊙ RMSNorm₄(W2·(silu(W1·b) ⊙ W3·b))
 * </pre>
 * Unmodulated blocks use scale 0 and gate 1 (not tanh(0)): the backend's null scale / null gate.
 */
final class TransformerBlock {
    private TransformerBlock() {
    }

    /**
     * @param x   the block's tokens (image, caption or joint rows of {@code ws.joint}), updated in place
     * @param cos rotary cos table rows matching {@code x}
     * @param sin rotary sin table rows matching {@code x}
     */
    static void forward(Backend b, DitConfig c, DitWeights.Block w, Tensor x, Tensor cos, Tensor sin, DitWorkspace ws) {
        int s = x.rows(), d = c.dim(), heads = c.nHeads(), hd = c.headDim();
        float eps = c.normEps();
        Tensor a = ws.normed.rows(0, s), q = ws.q.rows(0, s), k = ws.k.rows(0, s), v = ws.v.rows(0, s);
        Tensor kRot = ws.kRot.rows(0, s), attended = ws.attended.rows(0, s); // v, kRot, attended, ffn: matrix operands (bf16 on a GPU)
        Tensor branch = ws.branch.rows(0, s), ffn = ws.ffnHidden.rows(0, s);

        // adaLN: one modulation vector for every token, from the timestep embedding (no SiLU before it)
        Tensor scaleMsa = null, gateMsa = null, scaleMlp = null, gateMlp = null;
        if (w.modulated()) {
            b.linear(ws.modulation, ws.temb, w.adaLnW(), w.adaLnB());
            scaleMsa = ws.modulation.view(0, d);
            gateMsa = ws.modulation.view(d, d);
            scaleMlp = ws.modulation.view(2L * d, d);
            gateMlp = ws.modulation.view(3L * d, d);
        }

        // attention
        b.rmsNorm(a, x, w.attentionNorm1(), scaleMsa, eps);
        b.linear(q, a, w.toQ(), null);
        b.linear(k, a, w.toK(), null);
        b.linear(v, a, w.toV(), null);
        // QK-norm per head, then RoPE. q stays f32 (in place: the Hopper attention kernel converts Q as it loads it),
        // k becomes the bf16 operand the attention kernel streams without a conversion pass
        b.rmsNormRope(q, q, w.normQ(), cos, sin, heads, Rope.INTERLEAVED, eps);
        b.rmsNormRope(kRot, k, w.normK(), cos, sin, heads, Rope.INTERLEAVED, eps);
        b.attention(attended, q, kRot, v, AttentionSpec.full(heads, hd, s)); // pad tokens are attended to: no mask
        b.linear(branch, attended, w.toOut(), null);
        b.gatedResidualRmsNorm(x, branch, w.attentionNorm2(), gateMsa, eps);

        // SwiGLU feed-forward
        b.rmsNorm(a, x, w.ffnNorm1(), scaleMlp, eps);
        b.linearSwiGLU(ffn, a, w.w1(), w.w3());
        b.linear(branch, ffn, w.w2(), null);
        b.gatedResidualRmsNorm(x, branch, w.ffnNorm2(), gateMlp, eps);
    }
}
