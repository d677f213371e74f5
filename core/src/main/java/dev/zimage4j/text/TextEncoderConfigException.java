package dev.zimage4j.text;

/** A Qwen3 {@code config.json} that is unreadable, incomplete, or asks for something not implemented; the message names the field. */
public class TextEncoderConfigException extends RuntimeException {
    public TextEncoderConfigException(String message) {
        super(message);
    }

    public TextEncoderConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
