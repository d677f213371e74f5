package dev.zimage4j.kernels.cuda;

import dev.zimage4j.kernels.Rope;
import dev.zimage4j.kernels.ptx.Ptx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Every kernel variant the CUDA backend can generate: what {@code zimage kernels dump-ptx} writes and the ptxas test assembles. */
public final class KernelCatalog {

    private KernelCatalog() {
    }

    /** One generated kernel. */
    public record Entry(String name, String ptx) {
    }

    /** All variants, each built fresh. */
    public static List<Entry> all() {
        List<Ptx> ks = new ArrayList<>();
        for (ElementwiseKernels.Arith a : ElementwiseKernels.Arith.values()) ks.add(ElementwiseKernels.arith(a));
        ks.add(ElementwiseKernels.toBf16(true));
        ks.add(ElementwiseKernels.toBf16(false));
        ks.add(ElementwiseKernels.fillRows());
        ks.add(ElementwiseKernels.embedding());
        ks.add(ElementwiseKernels.transpose());
        ks.add(ElementwiseKernels.upsample2x());
        ks.add(ElementwiseKernels.upsample2xVec4());
        ks.add(ElementwiseKernels.im2col(8));
        ks.add(ElementwiseKernels.im2col(16));
        ks.add(ElementwiseKernels.im2col(64));
        ks.add(ElementwiseKernels.im2colTiled());
        ks.add(ElementwiseKernels.biasRows(false));
        ks.add(ElementwiseKernels.biasRows(true));
        ks.add(ElementwiseKernels.patchify(false));
        ks.add(ElementwiseKernels.patchify(true));
        for (Rope r : Rope.values()) ks.add(ElementwiseKernels.rope(r));
        ks.add(ElementwiseKernels.timestep());
        for (RowKernels.Kind k : RowKernels.Kind.values()) {
            ks.add(RowKernels.generate(k, false));
            ks.add(RowKernels.generate(k, true));
            if (k == RowKernels.Kind.RMS_NORM || k == RowKernels.Kind.LAYER_NORM) {
                ks.add(RowKernels.generate(k, false, true));
                ks.add(RowKernels.generate(k, true, true));
            }
        }
        for (Rope r : Rope.values()) {
            ks.add(RowKernels.rmsNormRope(r, false));
            ks.add(RowKernels.rmsNormRope(r, true));
        }
        ks.add(RowKernels.groupNormPartial());
        ks.add(RowKernels.groupNormPartial(true));
        ks.add(RowKernels.groupNormApplyVec4());
        ks.add(RowKernels.groupNormFinalize());
        ks.add(RowKernels.groupNormApply());
        for (GemmKernel.Config c : GemmKernel.allConfigs()) ks.add(GemmKernel.generate(c));
        for (AttentionKernel.Config c : AttentionKernel.allConfigs()) ks.add(AttentionKernel.generate(c));
        List<Entry> out = new ArrayList<>();
        for (Ptx p : ks) out.add(new Entry(p.entry(), p.build()));
        return out;
    }

    /** Writes every kernel as {@code DIR/NAME.ptx}; returns the files written. */
    public static List<Path> dump(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<Path> files = new ArrayList<>();
        for (Entry e : all()) {
            Path f = dir.resolve(e.name() + ".ptx");
            Files.writeString(f, e.ptx());
            files.add(f);
        }
        return files;
    }
}
