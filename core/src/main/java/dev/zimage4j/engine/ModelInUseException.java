package dev.zimage4j.engine;

/** An unload was asked for a model a running job holds; HTTP 409. */
public class ModelInUseException extends RuntimeException {
    public ModelInUseException(String modelId, int users) {
        super("model '" + modelId + "' is in use by " + users + " job(s); unload it when they finish");
    }
}
