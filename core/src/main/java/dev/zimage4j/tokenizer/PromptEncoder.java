package dev.zimage4j.tokenizer;

/**
 * Turns a user prompt into text-encoder input the way Z-Image does (spec §1.1): the Qwen3 chat
 * template for one user message with the generation prompt ({@code enable_thinking=True}, so no empty
 * think block), tokenized with no BOS/EOS, truncated on the right at {@code maxLength} tokens, padded
 * with {@code <|endoftext|>} and masked.
 */
public final class PromptEncoder {
    /** The pipeline's {@code max_sequence_length}. */
    public static final int MAX_LENGTH = 512;
    /** The pad token of the Qwen3 tokenizer. */
    public static final String PAD_TOKEN = "<|endoftext|>";

    private final QwenTokenizer tokenizer;
    private final int maxLength;
    private final int padId;

    /** @param maxLength tokens kept (512 in Z-Image); must be positive */
    public PromptEncoder(QwenTokenizer tokenizer, int maxLength) {
        if (maxLength < 1) throw new IllegalArgumentException("maxLength must be positive, got " + maxLength);
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.padId = tokenizer.requireTokenId(PAD_TOKEN);
    }

    /** With Z-Image's 512-token limit. */
    public PromptEncoder(QwenTokenizer tokenizer) {
        this(tokenizer, MAX_LENGTH);
    }

    /** {@code "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n"}. */
    public static String template(String prompt) {
        return "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n";
    }

    /** The templated, truncated, padded and masked prompt. */
    public TokenizedPrompt encode(String prompt) {
        int[] ids = tokenizer.encode(template(prompt));
        int length = Math.min(ids.length, maxLength);
        int[] padded = new int[maxLength];
        int[] mask = new int[maxLength];
        for (int i = 0; i < maxLength; i++) {
            padded[i] = i < length ? ids[i] : padId;
            mask[i] = i < length ? 1 : 0;
        }
        return new TokenizedPrompt(padded, mask, length);
    }

    public int maxLength() {
        return maxLength;
    }
}
