package dev.zimage4j.safetensors;

/** The header bytes are not valid UTF-8. */
public class HeaderEncodingException extends InvalidHeaderException {
    public HeaderEncodingException(String message) {
        super(message);
    }
}
