package dev.zimage4j.engine;

/** The engine is draining for shutdown and accepts no new jobs; HTTP 503. */
public class ShuttingDownException extends RuntimeException {
    public ShuttingDownException() {
        super("server is shutting down; no new jobs are accepted");
    }
}
