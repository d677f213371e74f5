package dev.zimage4j.server;

import dev.zimage4j.engine.Log;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code zimage serve --supervise}: runs the server as a child JVM (same java, flags and class path) and
 * restarts it when it exits or stops answering {@code /healthz}. The restarted child replays the job
 * journal, so accepted jobs still finish. On SIGTERM the supervisor passes SIGTERM on, waits for the
 * child to drain, and exits.
 */
public final class Supervisor {
    /** Between health checks (system property {@code zimage.supervisor.checkMillis}; a check times out after twice that). */
    static final Duration INTERVAL = Duration.ofMillis(Long.getLong("zimage.supervisor.checkMillis", 1000));
    /** Consecutive failed checks after which a child that once answered is killed. */
    static final int MAX_FAILURES = 3;
    /** How long a fresh child may take to answer its first check (JVM start + bind). */
    static final Duration STARTUP_GRACE = Duration.ofSeconds(120);

    private final List<String> childArgs;
    private final URI health;
    private final Duration drain;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private volatile boolean stopping;
    private volatile Process child;
    private int restarts;

    /**
     * @param childArgs the {@code serve} arguments of the child (without {@code --supervise})
     * @param base      the child's base URL (a fixed port)
     * @param drain     how long the child may drain on SIGTERM
     */
    public Supervisor(List<String> childArgs, URI base, Duration drain) {
        this.childArgs = childArgs;
        this.health = base.resolve("/healthz");
        this.drain = drain;
    }

    /**
     * Supervises until SIGTERM; returns the exit status.
     *
     * @param onExit run once the child has stopped on SIGTERM (e.g. removing the daemon file)
     */
    public int run(Runnable onExit) throws InterruptedException {
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping = true;
            Process c = child;
            if (c != null && c.isAlive()) {
                Log.info("supervisor: stopping child " + c.pid());
                c.destroy();
                try {
                    if (!c.waitFor(drain.toSeconds() + 35, TimeUnit.SECONDS)) c.destroyForcibly();
                } catch (InterruptedException e) {
                    c.destroyForcibly();
                }
            }
            onExit.run();
            main.interrupt();
        }, "supervisor-shutdown"));
        Duration backoff = Duration.ofMillis(250);
        while (!stopping) {
            long started = System.nanoTime();
            try {
                start();
            } catch (IOException e) {
                Log.info("supervisor: cannot start the server: " + e.getMessage());
                return 1;
            }
            try {
                watch(started);
            } catch (InterruptedException e) {
                if (stopping) break;
                throw e;
            }
            if (stopping) break;
            boolean quick = System.nanoTime() - started < Duration.ofSeconds(10).toNanos();
            backoff = quick ? min(backoff.multipliedBy(2), Duration.ofSeconds(30)) : Duration.ofMillis(250);
            Log.info("supervisor: server exited (status " + exitValue() + "); restart " + (++restarts) + " in " + backoff.toMillis() + " ms");
            Thread.sleep(backoff);
        }
        return 0;
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) < 0 ? a : b;
    }

    private String exitValue() {
        try {
            return Integer.toString(child.exitValue());
        } catch (IllegalThreadStateException e) {
            return "running";
        }
    }

    private void start() throws IOException {
        List<String> args = new ArrayList<>();
        args.add("serve");
        args.addAll(childArgs);
        args.add("--supervised-child");
        child = new ProcessBuilder(JavaProcess.zimage(args)).inheritIO().start();
        Log.info("supervisor: started server pid " + child.pid());
    }

    /** Returns when the child has exited (killing it first if it stopped answering). */
    private void watch(long started) throws InterruptedException {
        boolean answered = false;
        int failures = 0;
        while (child.isAlive() && !stopping) {
            if (child.waitFor(INTERVAL.toMillis(), TimeUnit.MILLISECONDS)) break;
            if (healthy()) {
                answered = true;
                failures = 0;
                continue;
            }
            failures++;
            boolean hung = answered ? failures >= MAX_FAILURES : System.nanoTime() - started > STARTUP_GRACE.toNanos();
            if (hung && !stopping) {
                Log.info("supervisor: server pid " + child.pid() + " does not answer " + health + "; killing it");
                child.destroyForcibly();
                child.waitFor();
            }
        }
    }

    private boolean healthy() {
        try {
            HttpResponse<Void> r = http.send(HttpRequest.newBuilder(health).timeout(INTERVAL.multipliedBy(2)).GET().build(),
                    HttpResponse.BodyHandlers.discarding());
            return r.statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
