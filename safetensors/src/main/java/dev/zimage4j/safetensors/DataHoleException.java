package dev.zimage4j.safetensors;

/** The data section has bytes that belong to no tensor (between tensors, before the first, or after the last). */
public class DataHoleException extends DataOffsetsException {
    public DataHoleException(String message) {
        super(message);
    }
}
