package dev.zimage4j.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Differential test: the pure-Java tokenizer against Hugging Face {@code tokenizers} (the Rust library,
 * through DJL's JNI binding, native library bundled in its jar, no network) on thousands of seeded
 * random strings mixing scripts, whitespace runs, digits, emoji, accents and special-token strings.
 * Ids must be identical; so must decoding.
 */
class HuggingFaceDifferentialTest {
    static final int STRINGS = 4000;
    static HuggingFaceTokenizer hf;
    static QwenTokenizer java;

    @BeforeAll
    static void load() throws Exception {
        try (InputStream in = new GZIPInputStream(QwenTokenizer.class.getResourceAsStream(QwenTokenizer.BUNDLED_RESOURCE))) {
            hf = HuggingFaceTokenizer.newInstance(in, Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        }
        java = QwenTokenizer.bundled();
    }

    @AfterAll
    static void close() {
        if (hf != null) hf.close();
    }

    /** Building blocks of the random strings; each string concatenates 1..40 of them. */
    static final String[] ATOMS = {
            // ASCII words, case, contractions (the (?i:'s|'t|…) branch, incl. long s ſ folding to s)
            "hello", "World", "HTTP", "a", "I", "don't", "DON'T", "it's", "IT'S", "we're", "You'VE", "I'm", "we'll", "he'd", "'s", "'S", "'ſ", "'ll", "'LL", "'x",
            // whitespace runs: spaces, tabs, newlines, CR, NBSP, ideographic space, line separator, NEL, VT, FF, FS
            " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n ", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b", "\u000c", "\u001c", "\u2009", "\u200b", " \t \n",
            // digits in several scripts, numeric letters and fractions
            "0", "123", "2024", "3.14", "１２３", "٣٤", "१२", "²", "½", "Ⅻ", "٫",
            // scripts
            "中文提示词", "一只可爱的熊猫", "日本語のテキスト", "カタカナ", "한국어 텍스트", "Привет мир", "Ελληνικά", "مرحبا بالعالم", "שלום", "नमस्ते", "สวัสดี", "ქართული",
            // accents: precomposed and decomposed (NFC must recompose), ligatures
            "éàü", "e\u0301", "A\u030a", "n\u0303o", "ß", "ﬁ", "Å", "Ω", "\u1e9b\u0323",
            // emoji: plain, ZWJ sequences, skin tone, flags, keycaps, variation selectors
            "🦊", "🔥", "👩‍💻", "👍🏽", "🇯🇵", "1️⃣", "❤️", "🧑‍🤝‍🧑", "😀😃",
            // punctuation and symbols
            ",", ".", "!?", "...", "--", "(", ")", "\"quoted\"", "'", "`", "@#$%", "©", "™", "→", "∑", "•", "—", "«»", "、", "。", "：", "～",
            // special-token strings, whole and partial
            "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<|vision_pad|>", "<tool_call>", "<|im_", "im_end|>", "<|", "|>", "<<|im_end|>>", "<|im_start|><|im_end|>",
    };

    static String randomString(SplittableRandom r) {
        StringBuilder sb = new StringBuilder();
        int atoms = 1 + r.nextInt(40);
        for (int i = 0; i < atoms; i++) {
            int kind = r.nextInt(10);
            if (kind < 7) sb.append(ATOMS[r.nextInt(ATOMS.length)]);
            else if (kind < 8) sb.append((char) ('a' + r.nextInt(26))).append(r.nextBoolean() ? " " : "");
            else sb.appendCodePoint(randomCodePoint(r));
        }
        return sb.toString();
    }

    /** A random assigned, non-surrogate, non-private code point from the common planes. */
    static int randomCodePoint(SplittableRandom r) {
        while (true) {
            int cp = r.nextInt(4) == 0 ? 0x1F000 + r.nextInt(0x1000) : r.nextInt(0x3000);
            int type = Character.getType(cp);
            if (type != Character.UNASSIGNED && type != Character.SURROGATE && type != Character.PRIVATE_USE) return cp;
        }
    }

    @Test
    void randomStringsGiveIdenticalIds() {
        SplittableRandom r = new SplittableRandom(20261129);
        List<String> mismatches = new ArrayList<>();
        long chars = 0;
        for (int n = 0; n < STRINGS; n++) {
            String s = randomString(r);
            chars += s.length();
            long[] expected = hf.encode(s, false, false).getIds();
            int[] actual = java.encode(s);
            if (!Arrays.equals(expected, Arrays.stream(actual).asLongStream().toArray())) {
                mismatches.add(escape(s) + "\n   hf:   " + Arrays.toString(expected) + "\n   java: " + Arrays.toString(actual));
                continue;
            }
            String hfText = hf.decode(expected, false);
            if (!hfText.equals(java.decode(actual, false))) mismatches.add("decode of " + escape(s) + ": hf " + escape(hfText) + " java " + escape(java.decode(actual, false)));
            if (!hf.decode(expected, true).equals(java.decode(actual, true))) mismatches.add("decode(skip special) of " + escape(s));
        }
        if (!mismatches.isEmpty())
            fail(mismatches.size() + " of " + STRINGS + " strings differ; first ones:\n" + String.join("\n", mismatches.subList(0, Math.min(10, mismatches.size()))));
        System.out.println("differential: " + STRINGS + " strings, " + chars + " chars, identical ids and decodes");
    }

    @Test
    void longLetterRunsGiveIdenticalIds() {
        // single pre-tokens far longer than 64 bytes (no spaces): the BPE's priority-queue path and no caching
        SplittableRandom r = new SplittableRandom(99);
        String[] runs = {"中文提示词", "一只可爱的熊猫", "カタカナ", "Привет", "supercalifragilistic", "éàü", "नमस्ते"};
        for (int n = 0; n < 300; n++) {
            StringBuilder sb = new StringBuilder();
            int k = 2 + r.nextInt(60);
            for (int i = 0; i < k; i++) sb.append(runs[r.nextInt(runs.length)]);
            String s = sb.toString();
            long[] expected = hf.encode(s, false, false).getIds();
            assertEquals(Arrays.toString(expected), Arrays.toString(java.encode(s)), () -> escape(s));
        }
    }

    @Test
    void randomIdSequencesDecodeIdentically() {
        // byte tokens in random order make invalid UTF-8: the replacement characters must match too
        SplittableRandom r = new SplittableRandom(7);
        for (int n = 0; n < 2000; n++) {
            long[] ids = new long[1 + r.nextInt(12)];
            for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(4) == 0 ? r.nextInt(256) : r.nextInt(4) == 0 ? 151643 + r.nextInt(26) : r.nextInt(151643);
            int[] ints = Arrays.stream(ids).mapToInt(x -> (int) x).toArray();
            assertEquals(hf.decode(ids, false), java.decode(ints, false), () -> "decode " + Arrays.toString(ids));
            assertEquals(hf.decode(ids, true), java.decode(ints, true), () -> "decode(skip) " + Arrays.toString(ids));
        }
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || Character.getType(cp) == Character.FORMAT || Character.isWhitespace(cp) && cp != ' ')
                sb.append(String.format("\\u%04x", cp));
            else sb.appendCodePoint(cp);
        });
        return sb.append('"').toString();
    }
}
