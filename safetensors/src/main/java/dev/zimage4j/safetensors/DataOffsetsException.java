package dev.zimage4j.safetensors;

/** A tensor's {@code data_offsets} are inconsistent with the data section; subclasses say how. */
public class DataOffsetsException extends InvalidHeaderException {
    public DataOffsetsException(String message) {
        super(message);
    }
}
