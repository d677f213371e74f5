package dev.zimage4j.tokenizer;

/**
 * A tokenizer file that cannot be used (malformed, or asking for a feature this implementation does
 * not have), or input the tokenizer cannot handle (an unknown token id). The message names the file,
 * the field and what was expected.
 */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
