package dev.zimage4j.engine;

/** A model id that is not configured (or tries to leave the configured model roots); HTTP 404. */
public class UnknownModelException extends RuntimeException {
    private final String modelId;

    public UnknownModelException(String modelId, String known) {
        super("unknown model '" + modelId + "'; configured: " + known);
        this.modelId = modelId;
    }

    public String modelId() {
        return modelId;
    }
}
