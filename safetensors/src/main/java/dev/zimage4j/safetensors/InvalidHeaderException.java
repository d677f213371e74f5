package dev.zimage4j.safetensors;

/** The header of a {@code .safetensors} file is malformed; subclasses say how. The message names the file and, where known, the tensor. */
public class InvalidHeaderException extends SafetensorsException {
    public InvalidHeaderException(String message) {
        super(message);
    }

    public InvalidHeaderException(String message, Throwable cause) {
        super(message, cause);
    }
}
