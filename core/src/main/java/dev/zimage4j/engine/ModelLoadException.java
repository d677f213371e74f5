package dev.zimage4j.engine;

/** A model directory could not be loaded; the cause says what is missing or malformed. HTTP 500. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String modelId, Throwable cause) {
        super("cannot load model '" + modelId + "': " + (cause.getMessage() == null ? cause.toString() : cause.getMessage()), cause);
    }
}
