package dev.zimage4j.pipeline;

/** A generation parameter out of range; {@link #field()} names it (HTTP 400 bodies use it). */
public class InvalidRequestException extends IllegalArgumentException {
    private final String field;

    public InvalidRequestException(String field, String problem) {
        super(field + " " + problem);
        this.field = field;
    }

    /** The request field at fault, in the HTTP API's snake_case spelling. */
    public String field() {
        return field;
    }
}
