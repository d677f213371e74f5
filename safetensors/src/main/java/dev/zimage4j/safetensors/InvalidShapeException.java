package dev.zimage4j.safetensors;

/** A tensor's shape has a negative dim, a non-integer dim, or an element count that overflows. */
public class InvalidShapeException extends InvalidHeaderException {
    public InvalidShapeException(String message) {
        super(message);
    }
}
