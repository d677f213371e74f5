package dev.zimage4j.cli;

import java.io.PrintStream;
import java.util.List;

/**
 * One {@code zimage} subcommand. Implementations are found with {@link java.util.ServiceLoader}
 * (listed in {@code META-INF/services/dev.zimage4j.cli.Command} of the module that defines them),
 * so the {@code bench} module can add {@code zimage bench} without {@code core} depending on it.
 */
public interface Command {

    /** The word after {@code zimage}. */
    String name();

    /** One line for {@code zimage help}. */
    String summary();

    /**
     * Runs the command.
     *
     * @param args the arguments after the command name
     * @param out  where normal output goes
     * @param err  where diagnostics go
     * @return the process exit status
     * @throws UsageException for bad arguments (printed with the command's usage)
     * @throws Exception      any other failure (printed as one line; stack trace with ZIMAGE_DEBUG=1)
     */
    int run(List<String> args, PrintStream out, PrintStream err) throws Exception;

    /** Usage text shown on {@code zimage help NAME} and after a {@link UsageException}. */
    default String usage() {
        return "zimage " + name();
    }
}
