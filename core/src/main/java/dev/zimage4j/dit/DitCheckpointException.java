package dev.zimage4j.dit;

import java.util.List;

/**
 * A DiT checkpoint does not match its configuration: tensors are missing, unknown, mis-shaped or of a
 * non-float dtype. The message lists every problem at once, so one run tells the whole story.
 */
public class DitCheckpointException extends RuntimeException {
    private final List<String> problems;

    public DitCheckpointException(String source, List<String> problems) {
        super("DiT checkpoint " + source + " does not match the config (" + problems.size() + " problem"
                + (problems.size() == 1 ? "" : "s") + "):\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    /** One line per problem, e.g. {@code "missing layers.3.ffn_norm2.weight [3840]"}. */
    public List<String> problems() {
        return problems;
    }
}
