package dev.zimage4j.safetensors;

/** A path to open is neither a safetensors file, an index, nor a directory holding exactly one of them (or does not exist). */
public class CheckpointLayoutException extends SafetensorsException {
    public CheckpointLayoutException(String message) {
        super(message);
    }
}
