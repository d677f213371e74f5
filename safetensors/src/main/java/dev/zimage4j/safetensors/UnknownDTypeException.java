package dev.zimage4j.safetensors;

/** A header entry names a dtype the format does not define. */
public class UnknownDTypeException extends InvalidHeaderException {
    public UnknownDTypeException(String message) {
        super(message);
    }
}
