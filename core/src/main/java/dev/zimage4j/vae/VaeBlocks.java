package dev.zimage4j.vae;

import dev.zimage4j.kernels.AttentionSpec;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Conv2dSpec;
import dev.zimage4j.kernels.Tensor;

/** The building blocks shared by the encoder and the decoder (spec §4.2), on a {@link VaeWorkspace}'s buffers. */
final class VaeBlocks {
    private VaeBlocks() {
    }

    /**
     * {@code ResnetBlock2D} on the current activation {@code [in, h, w]}, leaving {@code [out, h, w]} current:
     * {@code y = conv2(SiLU(GN2(conv1(SiLU(GN1(x)))))) + shortcut(x)}, shortcut a 1×1 conv iff in ≠ out.
     */
    static void resnet(Backend b, VaeWeights.Resnet r, VaeWorkspace ws, int groups, int h, int w) {
        int in = r.in(), out = r.out();
        Tensor x = ws.current(in, h, w);
        Tensor t = ws.spare(0, in, h, w);
        Tensor hidden = ws.spare(1, out, h, w);
        b.groupNorm(t, x, groups, r.norm1().gamma(), r.norm1().beta(), VaeConfig.NORM_EPS, true);
        b.conv2d(hidden, t, r.conv1().w(), r.conv1().b(), Conv2dSpec.same(in, h, w, out, 3));
        b.groupNorm(hidden, hidden, groups, r.norm2().gamma(), r.norm2().beta(), VaeConfig.NORM_EPS, true);
        Tensor y = ws.spare(0, out, h, w); // t is dead once conv1 has read it
        b.conv2d(y, hidden, r.conv2().w(), r.conv2().b(), Conv2dSpec.same(out, h, w, out, 3));
        if (r.shortcut() != null) {
            Tensor s = ws.spare(1, out, h, w);
            b.conv2d(s, x, r.shortcut().w(), r.shortcut().b(), Conv2dSpec.same(in, h, w, out, 1));
            b.add(y, y, s);
        } else {
            b.add(y, y, x);
        }
        ws.advance(0);
    }

    /**
     * The mid block's attention on the current activation {@code [c, h, w]}, in place: one head over all
     * {@code h·w} pixels, {@code x + to_out(softmax(q·kᵀ/√c)·v)} with q, k, v Linear maps of {@code GN(x)}.
     */
    static void attention(Backend b, VaeWeights.Attention a, VaeWorkspace ws, int groups, int c, int h, int w) {
        int s = h * w;
        Tensor x = ws.current(c, h, w);
        Tensor normed = ws.spare(0, c, h, w);
        b.groupNorm(normed, x, groups, a.norm().gamma(), a.norm().beta(), VaeConfig.NORM_EPS, false);
        b.transpose(ws.tokens, normed.reshape(c, s)); // CHW → tokens [s, c]
        b.linear(ws.q, ws.tokens, a.q().w(), a.q().b());
        b.linear(ws.k, ws.tokens, a.k().w(), a.k().b());
        b.linear(ws.v, ws.tokens, a.v().w(), a.v().b());
        b.attention(ws.attended, ws.q, ws.k, ws.v, AttentionSpec.full(1, c, s));
        b.linear(ws.tokens, ws.attended, a.out().w(), a.out().b());
        Tensor back = ws.spare(0, c, h, w).reshape(c, s);
        b.transpose(back, ws.tokens);
        b.add(x, x, back.reshape(c, h, w));
    }

    /** {@code resnet → attention → resnet} at {@code [c, h, w]}. */
    static void mid(Backend b, VaeWeights.Mid m, VaeWorkspace ws, int groups, int c, int h, int w) {
        resnet(b, m.first(), ws, groups, h, w);
        if (m.attention() != null) attention(b, m.attention(), ws, groups, c, h, w);
        resnet(b, m.second(), ws, groups, h, w);
    }
}
