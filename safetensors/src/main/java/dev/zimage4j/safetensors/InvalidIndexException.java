package dev.zimage4j.safetensors;

/** A {@code *.safetensors.index.json} is malformed (not JSON, no {@code weight_map}, wrong types, unsafe shard path). */
public class InvalidIndexException extends SafetensorsException {
    public InvalidIndexException(String message) {
        super(message);
    }

    public InvalidIndexException(String message, Throwable cause) {
        super(message, cause);
    }
}
