package dev.zimage4j.safetensors;

/** A tensor that was asked for is not in the checkpoint (or an index points at a tensor its shard lacks). */
public class MissingTensorException extends SafetensorsException {
    public MissingTensorException(String message) {
        super(message);
    }
}
