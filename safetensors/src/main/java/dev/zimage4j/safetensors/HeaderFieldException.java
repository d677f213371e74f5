package dev.zimage4j.safetensors;

/** A header entry lacks a required field ({@code dtype}, {@code shape}, {@code data_offsets}) or a field has the wrong JSON type. */
public class HeaderFieldException extends InvalidHeaderException {
    public HeaderFieldException(String message) {
        super(message);
    }
}
