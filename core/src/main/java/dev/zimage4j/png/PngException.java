package dev.zimage4j.png;

/** A PNG that cannot be read (malformed, truncated, or a variant this reader does not support); says which. */
public class PngException extends RuntimeException {
    public PngException(String message) {
        super(message);
    }
}
