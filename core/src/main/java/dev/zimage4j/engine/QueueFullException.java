package dev.zimage4j.engine;

/** The job queue is at {@code queue_capacity}; HTTP 429 with {@code Retry-After: retryAfterSeconds}. */
public class QueueFullException extends RuntimeException {
    private final int retryAfterSeconds;

    public QueueFullException(int capacity, int retryAfterSeconds) {
        super("queue full (" + capacity + " jobs waiting); retry in about " + retryAfterSeconds + " s");
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
