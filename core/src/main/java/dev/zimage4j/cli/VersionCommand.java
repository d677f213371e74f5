package dev.zimage4j.cli;

import java.io.PrintStream;
import java.util.List;

/** {@code zimage version}: the software version and the Java runtime it runs on. */
public final class VersionCommand implements Command {
    /** The project version, from the jar manifest when packaged. */
    public static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public String name() {
        return "version";
    }

    @Override
    public String summary() {
        return "print the zimage4j version and Java runtime";
    }

    @Override
    public int run(List<String> args, PrintStream out, PrintStream err) {
        out.println("zimage4j " + version() + " on Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")");
        return 0;
    }
}
