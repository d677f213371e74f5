package dev.zimage4j.tokenizer;

import java.util.Arrays;

/**
 * A prompt as the text encoder receives it (spec §1.1): {@code maxLength} ids, the real tokens first,
 * then padding, with the attention mask marking the real ones.
 *
 * @param paddedIds     {@code maxLength} ids: the templated prompt's ids (truncated), then the pad id
 * @param attentionMask 1 for the real tokens, 0 for padding
 * @param length        number of real tokens ({@code Lc}); the mask is 1 exactly on {@code [0, length)}
 */
public record TokenizedPrompt(int[] paddedIds, int[] attentionMask, int length) {
    public TokenizedPrompt {
        if (paddedIds.length != attentionMask.length || length < 0 || length > paddedIds.length)
            throw new IllegalArgumentException("ids " + paddedIds.length + ", mask " + attentionMask.length + ", length " + length);
    }

    /** The real tokens: the ids the pipeline feeds the text encoder once padding is removed. */
    public int[] ids() {
        return Arrays.copyOf(paddedIds, length);
    }
}
