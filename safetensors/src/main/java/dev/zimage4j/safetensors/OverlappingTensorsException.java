package dev.zimage4j.safetensors;

/** Two tensors' byte ranges overlap. */
public class OverlappingTensorsException extends DataOffsetsException {
    public OverlappingTensorsException(String message) {
        super(message);
    }
}
