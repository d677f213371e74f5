package dev.zimage4j.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** Entry point of the {@code zimage} command line: dispatches to the {@link Command}s on the class path. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs {@code zimage args…} and returns the exit status (used by tests too). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Map<String, Command> commands = new TreeMap<>();
        for (Command c : ServiceLoader.load(Command.class)) commands.put(c.name(), c);
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            if (args.length > 1 && commands.containsKey(args[1])) {
                out.println(commands.get(args[1]).usage());
                return 0;
            }
            out.println("usage: zimage COMMAND [ARGS…]   (zimage help COMMAND for details)");
            out.println();
            for (Command c : commands.values()) out.printf("  %-20s %s%n", c.name(), c.summary());
            return args.length == 0 ? 2 : 0;
        }
        Command c = commands.get(args[0]);
        if (c == null) {
            err.println("zimage: unknown command '" + args[0] + "'; known: " + String.join(", ", commands.keySet()));
            return 2;
        }
        List<String> rest = new ArrayList<>(Arrays.asList(args).subList(1, args.length));
        if (rest.contains("--help") || rest.contains("-h")) {
            out.println(c.usage());
            return 0;
        }
        try {
            return c.run(rest, out, err);
        } catch (UsageException e) {
            err.println("zimage " + c.name() + ": " + e.getMessage());
            err.println(c.usage());
            return 2;
        } catch (Exception | OutOfMemoryError e) {
            err.println("zimage " + c.name() + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            if (System.getenv("ZIMAGE_DEBUG") != null) e.printStackTrace(err);
            return 1;
        }
    }
}
