package dev.zimage4j.safetensors;

/** The header is not a syntactically valid JSON object. */
public class HeaderJsonException extends InvalidHeaderException {
    public HeaderJsonException(String message) {
        super(message);
    }

    public HeaderJsonException(String message, Throwable cause) {
        super(message, cause);
    }
}
