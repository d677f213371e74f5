package dev.zimage4j.pipeline;

/** A model location that cannot be loaded: a missing component, an unrecognised file, mismatched parts. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
