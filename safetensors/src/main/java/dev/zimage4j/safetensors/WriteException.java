package dev.zimage4j.safetensors;

/** Writing a safetensors file failed: an I/O error, or a tensor source that wrote the wrong number of bytes. */
public class WriteException extends SafetensorsException {
    public WriteException(String message) {
        super(message);
    }

    public WriteException(String message, Throwable cause) {
        super(message, cause);
    }
}
