package dev.zimage4j.safetensors;

/** A tensor's byte range length differs from its element count times its dtype size. */
public class TensorSizeException extends InvalidHeaderException {
    public TensorSizeException(String message) {
        super(message);
    }
}
