package dev.zimage4j.check;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.vae.Vae;
import dev.zimage4j.vae.VaeEncoder;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code check-reference --only vae}: the folder's {@code vae/} decodes {@code vae.decode.in} into
 * {@code vae.decode.out} (raw decoder output) and encodes {@code vae.encode.in} into {@code vae.encode.mean}
 * and {@code vae.encode.logvar}; tolerance 1e-4 (README).
 */
public final class VaeStage implements ReferenceStage {
    static final double TOLERANCE = 1e-4;

    @Override
    public String name() {
        return "vae";
    }

    @Override
    public int order() {
        return 40;
    }

    @Override
    public List<CaseResult> run(Fixtures f, Backend backend) throws Exception {
        List<CaseResult> out = new ArrayList<>();
        boolean decode = f.expected().find("vae.decode.in").isPresent(), encode = f.expected().find("vae.encode.in").isPresent();
        if (!decode && !encode) return out;
        Tolerance tol = Tolerance.of(TOLERANCE, backend);
        try (Vae vae = Vae.load(f.dir().resolve("vae"), backend)) {
            if (decode) {
                int[] s = f.shape("vae.decode.in"); // [1, C, h, w]
                float[] image = vae.decoder().decode(f.tensor("vae.decode.in"), s[2], s[3]);
                out.add(tol.judge(name(), "vae.decode.out", image, f.tensor("vae.decode.out"), "latent " + s[2] + "×" + s[3]));
            }
            if (encode) {
                int[] s = f.shape("vae.encode.in"); // [1, 3, H, W]
                VaeEncoder.Posterior p = vae.encoder().encode(f.tensor("vae.encode.in"), s[2], s[3]);
                String size = "image " + s[3] + "×" + s[2];
                out.add(tol.judge(name(), "vae.encode.mean", p.mean(), f.tensor("vae.encode.mean"), size));
                out.add(tol.judge(name(), "vae.encode.logvar", p.logvar(), f.tensor("vae.encode.logvar"), size));
            }
        }
        return out;
    }
}
