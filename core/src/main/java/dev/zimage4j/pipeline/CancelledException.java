package dev.zimage4j.pipeline;

/** A generation stopped between steps because its {@link CancellationToken} was cancelled. */
public class CancelledException extends RuntimeException {
    public CancelledException(String message) {
        super(message);
    }
}
