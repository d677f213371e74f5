package dev.zimage4j.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A persistent pool of worker threads for data-parallel loops: {@link #run} hands out task indices
 * {@code 0..tasks-1} dynamically (the calling thread works too) and returns when all are done.
 *
 * <p>No thread is created and nothing is allocated per call. Idle workers spin briefly, then park. A
 * call made from inside a running task (nesting) runs inline on the calling thread. Calls from
 * different threads are serialised.
 */
final class WorkerPool implements AutoCloseable {

    /** One data-parallel loop body: runs task {@code task} on worker {@code worker} (0 = caller). */
    @FunctionalInterface
    interface Body {
        void run(int task, int worker);
    }

    private static final int SPINS = 20_000;

    private final Thread[] workers;
    private final int size;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private final Object callLock = new Object();
    private volatile Body body;
    private volatile int tasks;
    private volatile long epoch;
    private volatile boolean closed;
    private volatile Thread caller;
    private volatile Throwable failure;

    /** A pool of {@code threads} participants in total (the caller plus {@code threads - 1} workers). */
    WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.size = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int id = i + 1;
            Thread t = new Thread(() -> workerLoop(id), "zimage-cpu-" + id);
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    /** Number of participants (caller included); worker ids passed to bodies are below this. */
    int size() {
        return size;
    }

    /**
     * Work (multiply-adds or elements touched) below which {@link #run(int, long, Body)} runs every task on the
     * calling thread: waking the workers and waiting for the last one costs more than such a loop, and on a
     * loaded machine a descheduled worker holding one task stalls the whole call for a scheduler quantum.
     * Results do not change: the tasks are the same, only who runs them.
     */
    static final long PARALLEL_MIN_WORK = 1L << 18;

    /** Runs {@code body} for every task index in {@code [0, tasks)} across the pool; rethrows the first failure. */
    void run(int tasks, Body body) {
        run(tasks, Long.MAX_VALUE, body);
    }

    /**
     * As {@link #run(int, Body)}, but inline on the calling thread when the whole loop does less than
     * {@link #PARALLEL_MIN_WORK} units of {@code work}.
     */
    void run(int tasks, long work, Body body) {
        if (tasks <= 0) return;
        Thread me = Thread.currentThread();
        if (tasks == 1 || size == 1 || work < PARALLEL_MIN_WORK || me == caller || isWorker(me)) {
            for (int t = 0; t < tasks; t++) body.run(t, inlineWorkerId(me));
            return;
        }
        synchronized (callLock) {
            if (closed) throw new IllegalStateException("the CPU backend's worker pool is closed");
            this.failure = null;
            this.body = body;
            this.tasks = tasks;
            next.set(0);
            pending.set(workers.length);
            caller = me;
            epoch = epoch + 1;
            for (Thread w : workers) LockSupport.unpark(w);
            try {
                work(0);
                int spins = 0;
                while (pending.get() != 0) {
                    if (++spins < SPINS) Thread.onSpinWait();
                    else LockSupport.park(this);
                }
            } finally {
                caller = null;
                this.body = null;
            }
            Throwable f = failure;
            if (f != null) {
                failure = null;
                if (f instanceof RuntimeException r) throw r;
                if (f instanceof Error e) throw e;
                throw new IllegalStateException(f);
            }
        }
    }

    private int inlineWorkerId(Thread me) {
        for (int i = 0; i < workers.length; i++) if (workers[i] == me) return i + 1;
        return 0;
    }

    private boolean isWorker(Thread t) {
        for (Thread w : workers) if (w == t) return true;
        return false;
    }

    private void work(int id) {
        Body b = body;
        int n = tasks;
        int t;
        while ((t = next.getAndIncrement()) < n) {
            try {
                b.run(t, id);
            } catch (Throwable e) {
                if (failure == null) failure = e;
                next.set(n); // stop handing out tasks
            }
        }
    }

    private void workerLoop(int id) {
        long seen = 0;
        while (true) {
            int spins = 0;
            long e;
            while ((e = epoch) == seen) {
                if (closed) return;
                if (++spins < SPINS) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            seen = e;
            work(id);
            Thread c = caller;
            if (pending.decrementAndGet() == 0 && c != null) LockSupport.unpark(c);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
