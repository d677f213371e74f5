package dev.zimage4j.vae;

import java.util.List;

/**
 * A VAE configuration or checkpoint that cannot be used. For a checkpoint the message lists every problem
 * (missing, unknown, mis-shaped or non-float tensors) at once.
 */
public class VaeCheckpointException extends IllegalArgumentException {
    private final List<String> problems;

    public VaeCheckpointException(String message) {
        super(message);
        this.problems = List.of(message);
    }

    public VaeCheckpointException(String source, List<String> problems) {
        super("VAE checkpoint " + source + " does not match the config (" + problems.size() + " problem"
                + (problems.size() == 1 ? "" : "s") + "):\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    /** One line per problem, e.g. {@code "missing decoder.conv_in.weight [512, 16, 3, 3]"}. */
    public List<String> problems() {
        return problems;
    }
}
