package dev.zimage4j.server;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Command lines that start another {@code zimage} JVM with this one's java, JVM flags and class path. */
final class JavaProcess {
    private JavaProcess() {
    }

    /**
     * {@code java <this JVM's flags> -cp <this class path> dev.zimage4j.cli.Main args…}; every
     * {@code zimage.*} system property of this JVM is passed on (state directory, factory, …).
     */
    static List<String> zimage(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-javaagent") && !a.startsWith("-Dzimage.")) cmd.add(a);
        for (String k : System.getProperties().stringPropertyNames())
            if (k.startsWith("zimage.")) cmd.add("-D" + k + "=" + System.getProperty(k));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.zimage4j.cli.Main");
        cmd.addAll(args);
        return cmd;
    }
}
