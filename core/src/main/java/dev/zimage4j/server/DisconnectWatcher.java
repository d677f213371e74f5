package dev.zimage4j.server;

import com.sun.net.httpserver.HttpExchange;
import dev.zimage4j.engine.Log;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Notices when the client of a waiting exchange goes away, so its job can be cancelled. The JDK server
 * does not expose the connection, so this reads the exchange's socket channel through its (opened)
 * internals: after the request body is consumed the client sends nothing more until it has the answer,
 * so a read returning end-of-stream or failing means the client is gone. The answer must then close the
 * connection ({@code Connection: close}), since the watcher may have consumed bytes of a pipelined
 * request. Needs {@code --add-opens jdk.httpserver/sun.net.httpserver=ALL-UNNAMED} (set by ./zimage and
 * the test runner); without it, disconnects go unnoticed and the job runs to completion.
 */
final class DisconnectWatcher implements AutoCloseable {
    private static final Field IMPL, CONNECTION, CHANNEL;
    private static volatile boolean warned;

    static {
        Field impl = null, conn = null, chan = null;
        try {
            impl = Class.forName("sun.net.httpserver.HttpExchangeImpl").getDeclaredField("impl");
            conn = Class.forName("sun.net.httpserver.ExchangeImpl").getDeclaredField("connection");
            chan = Class.forName("sun.net.httpserver.HttpConnection").getDeclaredField("chan");
            impl.setAccessible(true);
            conn.setAccessible(true);
            chan.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            impl = conn = chan = null;
        }
        IMPL = impl;
        CONNECTION = conn;
        CHANNEL = chan;
    }

    private volatile boolean closed;

    private DisconnectWatcher() {
    }

    /** True when this JVM lets the watcher see connections (the add-opens flag is set). */
    static boolean supported() {
        return IMPL != null;
    }

    /** Starts watching {@code exchange}'s connection; {@code onDisconnect} runs once if the client leaves first. */
    static DisconnectWatcher watch(HttpExchange exchange, Runnable onDisconnect) {
        DisconnectWatcher w = new DisconnectWatcher();
        SocketChannel ch = channel(exchange);
        if (ch == null) return w;
        Thread.ofVirtual().name("disconnect-watch").start(() -> {
            ByteBuffer one = ByteBuffer.allocate(1);
            try {
                while (!w.closed) {
                    one.clear();
                    if (ch.read(one) < 0) break;
                }
            } catch (IOException e) {
                // reset by the client, or closed by us after answering
            }
            if (!w.closed) onDisconnect.run();
        });
        return w;
    }

    private static SocketChannel channel(HttpExchange exchange) {
        if (IMPL == null || !IMPL.getDeclaringClass().isInstance(exchange)) {
            if (!warned) {
                warned = true;
                Log.info("client disconnects cannot be detected (run with --add-opens jdk.httpserver/sun.net.httpserver=ALL-UNNAMED)");
            }
            return null;
        }
        try {
            Object conn = CONNECTION.get(IMPL.get(exchange));
            return (SocketChannel) CHANNEL.get(conn);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** Stops watching (before answering: the answer closes the channel, which is not a disconnect). */
    @Override
    public void close() {
        closed = true;
    }
}
