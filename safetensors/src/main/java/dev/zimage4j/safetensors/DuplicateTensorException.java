package dev.zimage4j.safetensors;

/** The same tensor name occurs twice in one header, or in two shards of one checkpoint. */
public class DuplicateTensorException extends InvalidHeaderException {
    public DuplicateTensorException(String message) {
        super(message);
    }
}
