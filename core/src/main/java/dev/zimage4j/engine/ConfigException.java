package dev.zimage4j.engine;

/** The server configuration (file or flags) is invalid; the message names the key and what is accepted. */
public class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
