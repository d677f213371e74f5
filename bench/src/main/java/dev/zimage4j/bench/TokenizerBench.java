package dev.zimage4j.bench;

import dev.zimage4j.tokenizer.PromptEncoder;
import dev.zimage4j.tokenizer.QwenTokenizer;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Tokenizer throughput (plain main, not part of the test run):
 * <pre>java --add-modules jdk.incubator.vector -cp 'bench/target/dist/lib/*' dev.zimage4j.bench.TokenizerBench [seconds]</pre>
 * Prints the bundled tokenizer's load time, then single-thread encode throughput in MB/s of UTF-8 input
 * (per wall second and per CPU second of the encoding thread, the latter less sensitive to a shared machine) on three
 * corpora: English prose (repeated words: the BPE cache mostly hits), mixed scripts with emoji and
 * special tokens, and unique random words (the cache mostly misses), plus Z-Image prompt encodes per second.
 */
public final class TokenizerBench {
    private TokenizerBench() {
    }

    public static void main(String[] args) {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        long t0 = System.nanoTime();
        QwenTokenizer tok = QwenTokenizer.bundled();
        System.out.printf("load bundled tokenizer (gunzip + parse + merge table): %.0f ms (first load in this JVM, cold JIT)%n", (System.nanoTime() - t0) / 1e6);

        String english = ("A red fox in the snow, 35mm photo. The lighthouse at dusk stands on the rocky shore, its beam sweeping "
                + "across the water while gulls circle overhead and waves break against the cliffs. ").repeat(400);
        String mixed = ("中文提示词：一只可爱的熊猫在竹林里吃竹子。日本語のテキスト、カタカナ。Привет мир! émoji 🦊🔥 éàü ß "
                + "<|im_end|> numbers 1234567890 3.14159\n\tindent  spaces   end ").repeat(300);
        StringBuilder unique = new StringBuilder();
        SplittableRandom r = new SplittableRandom(1);
        while (unique.length() < 200_000) {
            int len = 3 + r.nextInt(9);
            for (int i = 0; i < len; i++) unique.append((char) ('a' + r.nextInt(26)));
            unique.append(' ');
        }
        measure(tok, "english prose (cache hits)", english, seconds);
        measure(tok, "mixed scripts, emoji, specials", mixed, seconds);
        measure(tok, "unique random words (cache misses)", unique.toString(), seconds);

        PromptEncoder prompts = new PromptEncoder(tok);
        String prompt = "a red fox in the snow, 35mm photo, golden hour, shallow depth of field, highly detailed fur";
        long n = 0, start = System.nanoTime(), end = start + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            prompts.encode(prompt + (n % 97)); // vary the text slightly
            n++;
        }
        double s = (System.nanoTime() - start) / 1e9;
        System.out.printf("%-38s %10.0f prompts/s (%.1f µs each, template + 512-padded ids + mask)%n", "Z-Image prompt encode", n / s, 1e6 * s / n);
    }

    private static void measure(QwenTokenizer tok, String name, String text, double seconds) {
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        for (int i = 0; i < 3; i++) tok.encode(text); // warm-up (JIT, cache)
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long n = 0, tokens = 0, cpu0 = mx.getCurrentThreadCpuTime(), start = System.nanoTime(), end = start + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            tokens += tok.encode(text).length;
            n++;
        }
        double s = (System.nanoTime() - start) / 1e9, cpu = (mx.getCurrentThreadCpuTime() - cpu0) / 1e9;
        System.out.printf("%-38s %8.1f MB/s wall, %8.1f MB per CPU-second  %10.0f tokens/s wall  (%d KB input, %d runs)%n",
                name, n * bytes / s / 1e6, n * bytes / cpu / 1e6, tokens / s, bytes / 1024, n);
    }
}
