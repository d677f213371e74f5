package dev.zimage4j.tokenizer;

import java.io.ByteArrayOutputStream;

/**
 * GPT-2's byte-level alphabet: every byte 0..255 is shown as one printable Unicode character so that
 * BPE symbols are strings. Printable Latin-1 bytes map to themselves; the other 68 bytes map to
 * U+0100.. in byte order (space 0x20 becomes {@code Ġ} U+0120, newline {@code Ċ} U+010A).
 */
final class ByteLevel {
    /** The character standing for each byte. */
    static final char[] BYTE_TO_CHAR = new char[256];
    /** The byte each character stands for, or -1; indexed by char (all are below U+0200). */
    private static final int[] CHAR_TO_BYTE = new int[0x200];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {
    }

    /** The byte a symbol character stands for, or -1 if it is not in the alphabet. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /**
     * The bytes a token string stands for, as the Hugging Face ByteLevel decoder does: each character
     * mapped back to its byte; a token holding any character outside the alphabet contributes its own
     * UTF-8 bytes instead.
     */
    static void appendBytes(String token, ByteArrayOutputStream out) {
        byte[] bytes = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            int b = byteOf(token.charAt(i));
            if (b < 0) {
                out.writeBytes(token.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                return;
            }
            bytes[i] = (byte) b;
        }
        out.writeBytes(bytes);
    }
}
