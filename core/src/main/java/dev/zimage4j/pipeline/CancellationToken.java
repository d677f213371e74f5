package dev.zimage4j.pipeline;

/** Checked by the pipeline between denoising steps; {@link #cancel()} makes the next check throw {@link CancelledException}. */
public final class CancellationToken {
    private volatile String reason;

    public void cancel(String why) {
        reason = why == null ? "cancelled" : why;
    }

    public void cancel() {
        cancel("cancelled");
    }

    public boolean isCancelled() {
        return reason != null;
    }

    /** Throws {@link CancelledException} if cancelled. */
    public void check() {
        String r = reason;
        if (r != null) throw new CancelledException(r);
    }
}
