package dev.zimage4j.tokenizer;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One {@code Split} step of the pre-tokenizer with {@code Isolated} behaviour: the text is cut into the
 * pattern's matches and the gaps between them, in order, none dropped.
 */
interface Splitter {
    /** Receives each piece as {@code [start, end)} of the text. */
    interface Pieces {
        void accept(int start, int end);
    }

    void split(String text, Pieces pieces);

    /** The general case: any pattern, through {@link java.util.regex}. */
    static Splitter regex(Pattern pattern) {
        return (text, pieces) -> {
            Matcher m = pattern.matcher(text);
            int last = 0;
            while (m.find()) {
                if (m.start() > last) pieces.accept(last, m.start());
                if (m.end() > m.start()) pieces.accept(m.start(), m.end());
                last = m.end();
            }
            if (last < text.length()) pieces.accept(last, text.length());
        };
    }
}
