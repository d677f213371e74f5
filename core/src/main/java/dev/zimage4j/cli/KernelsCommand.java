package dev.zimage4j.cli;

import dev.zimage4j.kernels.cuda.KernelCatalog;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code zimage kernels dump-ptx DIR}: writes every PTX kernel the CUDA backend generates, one file each. */
public final class KernelsCommand implements Command {

    @Override
    public String name() {
        return "kernels";
    }

    @Override
    public String summary() {
        return "GPU kernel tools: dump-ptx DIR writes every generated PTX kernel";
    }

    @Override
    public String usage() {
        return """
                zimage kernels dump-ptx DIR
                  Writes every kernel variant the CUDA backend can generate as DIR/NAME.ptx (PTX ISA 8.0, sm_90),
                  e.g. to check them with: for f in DIR/*.ptx; do ptxas -arch=sm_90 -v -o /dev/null $f; done""";
    }

    @Override
    public int run(List<String> args, PrintStream out, PrintStream err) throws Exception {
        if (args.size() != 2 || !args.get(0).equals("dump-ptx"))
            throw new UsageException(args.isEmpty() ? "missing subcommand" : "expected 'dump-ptx DIR', got " + String.join(" ", args));
        List<Path> files = KernelCatalog.dump(Path.of(args.get(1)));
        out.println("wrote " + files.size() + " kernels to " + Path.of(args.get(1)).toAbsolutePath());
        return 0;
    }
}
