package dev.zimage4j.engine;

import java.time.LocalTime;
import java.time.format.DateTimeFormatter;

/** One-line, timestamped diagnostics on standard error (the server's log; no logging framework needed). */
public final class Log {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

    private Log() {
    }

    public static void info(String message) {
        System.err.println(LocalTime.now().format(TIME) + " zimage: " + message);
    }
}
