package dev.zimage4j.safetensors;

/** Base of every error raised while reading or writing safetensors data; the message names the file and, where known, the tensor. */
public class SafetensorsException extends RuntimeException {
    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
