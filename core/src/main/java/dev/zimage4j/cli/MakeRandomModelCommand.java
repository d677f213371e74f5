package dev.zimage4j.cli;

import dev.zimage4j.modelgen.ModelPreset;
import dev.zimage4j.modelgen.RandomModelWriter;
import dev.zimage4j.safetensors.DType;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** {@code zimage make-random-model}: writes a complete pipeline directory with seeded random weights. */
public final class MakeRandomModelCommand implements Command {

    @Override
    public String name() {
        return "make-random-model";
    }

    @Override
    public String summary() {
        return "write a pipeline directory with seeded random weights (tiny demo or real-size shapes)";
    }

    @Override
    public String usage() {
        return """
                usage: zimage make-random-model --preset {tiny,real} --out DIR [--dtype bf16|f32]
                                                [--layout diffusers|single-file] [--seed N]
                  --preset   tiny: the built-in demo model (fixture sizes); real: Z-Image-Turbo shapes
                             (12.3 GB DiT + 8 GB text encoder in bf16; check free disk space first)
                  --out      a new or empty directory
                  --dtype    storage dtype of every tensor (default bf16)
                  --layout   DiT checkpoint layout: diffusers (default) or single-file (ComfyUI, fused qkv)
                  --seed     random seed (default 0); the same seed gives the same weights""";
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws Exception {
        Args args = new Args(argList, Set.of("--preset", "--out", "--dtype", "--layout", "--seed"), Set.of());
        if (!args.positional().isEmpty()) throw new UsageException("unexpected argument '" + args.positional().getFirst() + "'");
        String presetName = args.get("--preset", null);
        if (presetName == null) throw new UsageException("--preset is required (tiny or real)");
        ModelPreset preset = switch (presetName) {
            case "tiny" -> ModelPreset.TINY;
            case "real" -> ModelPreset.REAL;
            default -> throw new UsageException("--preset must be tiny or real, got '" + presetName + "'");
        };
        String dir = args.get("--out", null);
        if (dir == null) throw new UsageException("--out DIR is required");
        DType dtype = switch (args.get("--dtype", "bf16")) {
            case "bf16" -> DType.BF16;
            case "f32" -> DType.F32;
            default -> throw new UsageException("--dtype must be bf16 or f32, got '" + args.get("--dtype", "") + "'");
        };
        RandomModelWriter.DitLayout layout = switch (args.get("--layout", "diffusers")) {
            case "diffusers" -> RandomModelWriter.DitLayout.DIFFUSERS;
            case "single-file" -> RandomModelWriter.DitLayout.SINGLE_FILE;
            default -> throw new UsageException("--layout must be diffusers or single-file, got '" + args.get("--layout", "") + "'");
        };
        long seed = args.getLong("--seed", 0);
        Path target = Path.of(dir);
        RandomModelWriter.write(preset, target, dtype, layout, seed, out::println);
        out.println("random " + preset.name() + " model (seed " + seed + ", " + dtype + ") written to " + target);
        return 0;
    }
}
