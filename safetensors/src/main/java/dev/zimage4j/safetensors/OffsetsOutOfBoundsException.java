package dev.zimage4j.safetensors;

/** A tensor's byte range is reversed, negative, or ends past the end of the file. */
public class OffsetsOutOfBoundsException extends DataOffsetsException {
    public OffsetsOutOfBoundsException(String message) {
        super(message);
    }
}
