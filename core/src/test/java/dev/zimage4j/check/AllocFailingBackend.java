package dev.zimage4j.check;

import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Tensor;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link Backend} that delegates to another, counts the tensors it has allocated and not released, and
 * can be told to fail the n-th next {@code alloc} or {@code allocOperand} (as a device running out of memory would), for testing
 * that partly built workspaces free what they took.
 */
public final class AllocFailingBackend {
    /** The message of the simulated failure. */
    public static final String MESSAGE = "simulated out of device memory";

    private final AtomicInteger live = new AtomicInteger(), allocsLeft = new AtomicInteger(Integer.MAX_VALUE);
    private final Backend backend;

    public AllocFailingBackend(Backend delegate) {
        backend = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class}, (proxy, m, args) -> {
            boolean alloc = m.getName().equals("alloc") || m.getName().equals("allocOperand");
            if (alloc && allocsLeft.getAndDecrement() <= 0) throw new IllegalStateException(MESSAGE);
            Object result;
            try {
                result = m.invoke(delegate, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            if (alloc) live.incrementAndGet();
            if (m.getName().equals("release") && m.getParameterTypes()[0] == Tensor.class) live.decrementAndGet();
            return result;
        });
    }

    /** The counting backend (closing it closes the delegate). */
    public Backend backend() {
        return backend;
    }

    /** Tensors allocated and not yet released. */
    public int liveTensors() {
        return live.get();
    }

    /** Lets {@code n} more allocations succeed, then fails every one after them with {@link #MESSAGE}. */
    public void failAfter(int n) {
        allocsLeft.set(n);
    }
}
