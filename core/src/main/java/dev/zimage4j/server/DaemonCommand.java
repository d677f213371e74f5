package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.cli.Command;
import dev.zimage4j.cli.UsageException;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** {@code zimage daemon start|status|stop}: the background server {@code zimage generate} uses. */
public final class DaemonCommand implements Command {
    @Override
    public String name() {
        return "daemon";
    }

    @Override
    public String summary() {
        return "start, query or stop the background server that zimage generate uses";
    }

    @Override
    public String usage() {
        return """
                usage: zimage daemon status          is a local server running? where, which models are loaded
                       zimage daemon stop            SIGTERM it (it finishes running work) and wait
                       zimage daemon start [ARGS…]   start one in the background (ARGS as for zimage serve) and wait until ready""";
    }

    @Override
    public int run(List<String> args, PrintStream out, PrintStream err) throws Exception {
        if (args.isEmpty()) throw new UsageException("say status, stop or start");
        Optional<LocalClient> c = LocalClient.find();
        switch (args.getFirst()) {
            case "status" -> {
                if (c.isEmpty()) {
                    out.println("no local server running (" + DaemonFile.path() + ")");
                    return 1;
                }
                out.println("server pid " + c.get().pid() + " at " + c.get().url() + (c.get().ready() ? ", ready" : ", not ready yet"));
                for (JsonNode m : c.get().models().path("data"))
                    out.println("  model " + m.get("id").asText() + (m.get("loaded").asBoolean() ? " (loaded" : " (not loaded")
                            + ", " + m.get("loads").asLong() + " load(s))" + (m.get("default").asBoolean() ? " default" : ""));
                return 0;
            }
            case "stop" -> {
                if (c.isEmpty()) {
                    out.println("no local server running");
                    return 0;
                }
                boolean stopped = c.get().stop(Duration.ofSeconds(120));
                out.println(stopped ? "stopped server pid " + c.get().pid() : "server pid " + c.get().pid() + " did not exit within 120 s");
                return stopped ? 0 : 1;
            }
            case "start" -> {
                LocalClient s = LocalClient.startDaemon(args.subList(1, args.size()), Duration.ofMinutes(10));
                out.println("server pid " + s.pid() + " ready at " + s.url());
                return 0;
            }
            default -> throw new UsageException("unknown daemon action '" + args.getFirst() + "'; say status, stop or start");
        }
    }
}
