package dev.zimage4j.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text the way Hugging Face does (Aho–Corasick, leftmost-longest): scanning
 * left to right, the first position where any token starts wins, and there the longest token.
 */
final class AddedTokens {
    /** Tokens by first character, longest first. */
    private final Map<Character, List<QwenTokenizer.AddedToken>> byFirst = new HashMap<>();
    /** The first characters of all tokens, for a cheap scan. */
    private final java.util.BitSet firstChars = new java.util.BitSet(1 << 16);

    /** What to do with the text between matches. */
    interface Segment {
        void accept(String text, IntList out);
    }

    AddedTokens(List<QwenTokenizer.AddedToken> tokens) {
        for (var t : tokens) {
            byFirst.computeIfAbsent(t.content().charAt(0), k -> new ArrayList<>()).add(t);
            firstChars.set(t.content().charAt(0));
        }
        byFirst.values().forEach(l -> l.sort(Comparator.comparingInt((QwenTokenizer.AddedToken t) -> t.content().length()).reversed()));
    }

    /** Appends the ids of the tokens found in {@code text} to {@code out}, passing the text between them to {@code between}. */
    void split(String text, IntList out, Segment between) {
        if (byFirst.isEmpty()) {
            between.accept(text, out);
            return;
        }
        int last = 0;
        for (int i = 0; i < text.length(); i++) {
            if (!firstChars.get(text.charAt(i))) continue;
            List<QwenTokenizer.AddedToken> candidates = byFirst.get(text.charAt(i));
            for (var t : candidates) {
                if (text.startsWith(t.content(), i)) {
                    if (i > last) between.accept(text.substring(last, i), out);
                    out.add(t.id());
                    last = i + t.content().length();
                    i = last - 1;
                    break;
                }
            }
        }
        if (last < text.length()) between.accept(text.substring(last), out);
    }
}
