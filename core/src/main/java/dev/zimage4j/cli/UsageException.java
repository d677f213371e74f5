package dev.zimage4j.cli;

/** Bad command-line arguments; the message says which argument and what was expected. */
public class UsageException extends RuntimeException {
    public UsageException(String message) {
        super(message);
    }
}
