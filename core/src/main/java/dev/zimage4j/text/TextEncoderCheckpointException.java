package dev.zimage4j.text;

import java.util.List;

/**
 * A text-encoder checkpoint does not match its configuration: tensors missing, mis-shaped or of a
 * non-float dtype. The message lists every problem at once.
 */
public class TextEncoderCheckpointException extends RuntimeException {
    private final List<String> problems;

    public TextEncoderCheckpointException(String source, List<String> problems) {
        super("text-encoder checkpoint " + source + " does not match the config (" + problems.size() + " problem"
                + (problems.size() == 1 ? "" : "s") + "):\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    /** One line per problem, e.g. {@code "missing model.layers.3.mlp.up_proj.weight [9728, 2560]"}. */
    public List<String> problems() {
        return problems;
    }
}
