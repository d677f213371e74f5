package dev.zimage4j.tokenizer;

import dev.zimage4j.check.TestFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/** The bundled tokenizer against the fixtures' tokenizer cases, and its error handling. */
class QwenTokenizerTest {
    static Path root() {
        return TestFixtures.root();
    }

    static JsonNode cases() throws Exception {
        return new ObjectMapper().readTree(root().resolve("testdata/tiny-a/cases.json").toFile());
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    @Test
    void bundledResourceIsTheVerifiedFile() throws Exception {
        try (InputStream in = new GZIPInputStream(QwenTokenizer.class.getResourceAsStream(QwenTokenizer.BUNDLED_RESOURCE))) {
            byte[] sha = MessageDigest.getInstance("SHA-256").digest(in.readAllBytes());
            assertEquals("aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4", HexFormat.of().formatHex(sha));
        }
    }

    @Test
    void everyFixtureCaseExact() throws Exception {
        QwenTokenizer tok = QwenTokenizer.bundled();
        PromptEncoder prompts = new PromptEncoder(tok);
        JsonNode cases = cases().path("tokenizer_cases");
        assertTrue(cases.size() >= 10, "tokenizer_cases present");
        boolean sawTruncation = false;
        for (JsonNode c : cases) {
            String prompt = c.path("prompt").asText();
            assertEquals(c.path("templated").asText(), PromptEncoder.template(prompt));
            assertArrayEquals(ints(c.path("ids_raw")), tok.encode(prompt), () -> "raw ids of " + abbreviate(prompt));
            TokenizedPrompt tp = prompts.encode(prompt);
            int[] expected = ints(c.path("ids_templated_truncated_512"));
            assertArrayEquals(expected, tp.ids(), () -> "templated ids of " + abbreviate(prompt));
            assertEquals(512, tp.paddedIds().length);
            for (int i = 0; i < 512; i++) {
                assertEquals(i < expected.length ? 1 : 0, tp.attentionMask()[i]);
                if (i >= expected.length) assertEquals(151643, tp.paddedIds()[i]);
            }
            sawTruncation |= tok.encode(PromptEncoder.template(prompt)).length > 512;
            // decoding gives back the (NFC-normalised) text
            assertEquals(java.text.Normalizer.normalize(prompt, java.text.Normalizer.Form.NFC), tok.decode(tok.encode(prompt), false));
        }
        assertTrue(sawTruncation, "a case exercises truncation at 512");
    }

    @Test
    void specialTokensAndDecode() {
        QwenTokenizer tok = QwenTokenizer.bundled();
        assertArrayEquals(new int[]{151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198},
                tok.encode("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"));
        assertEquals("Hello", tok.decode(new int[]{151644, 9707, 151645}, true));
        assertEquals("<|im_start|>Hello<|im_end|>", tok.decode(new int[]{151644, 9707, 151645}, false));
        // <think> is added but not special: kept when skipping special tokens
        assertEquals("<think>", tok.decode(new int[]{151667}, true));
        var e = assertThrows(TokenizerException.class, () -> tok.decode(new int[]{999_999}, false));
        assertTrue(e.getMessage().contains("999999"), e.getMessage());
        assertArrayEquals(new int[0], tok.encode(""));
        var bad = assertThrows(IllegalArgumentException.class, () -> tok.encode("ok \ud83e then"));
        assertTrue(bad.getMessage().contains("U+D83E at index 3"), bad.getMessage());
        assertArrayEquals(tok.encode("🦊"), tok.encode("\ud83e\udd8a"));
    }

    @Test
    void scanAndQueueMergeOrdersAgree() {
        // words over 64 bytes take the priority-queue path; both paths must give the same ids on any input
        Bpe bpe = QwenTokenizer.bundled().bpe();
        java.util.SplittableRandom r = new java.util.SplittableRandom(42);
        String[] alphabets = {"abcdefghijklmnopqrstuvwxyz", "一只可爱的熊猫在竹林里吃竹子中文提示词", "éàüßøåç", "aaaaab", "ーカタナテキスト"};
        for (int n = 0; n < 500; n++) {
            String alphabet = alphabets[r.nextInt(alphabets.length)];
            StringBuilder sb = new StringBuilder();
            int len = 1 + r.nextInt(120);
            for (int i = 0; i < len; i++) sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
            byte[] utf8 = sb.toString().getBytes(StandardCharsets.UTF_8);
            assertArrayEquals(bpe.merge(utf8, false), bpe.merge(utf8, true), sb::toString);
        }
        String cjk = "一只可爱的熊猫在竹林里吃竹子".repeat(10);
        assertEquals(cjk, QwenTokenizer.bundled().decode(QwenTokenizer.bundled().encode(cjk), false));
    }

    @Test
    void handWrittenQwen2SplitEqualsTheRegex() {
        // the fast path must cut every text exactly where java.util.regex cuts it with the same pattern
        Splitter regex = Splitter.regex(QwenTokenizer.compile(Qwen2Split.PATTERN, "test"));
        Splitter hand = new Qwen2Split();
        String alphabet = "aZſé中🦊1٣²Ⅻ '\"sStTrReEvVmMlLdD.,!?-_()\t\n\r\u000b\u000c\u0085\u00a0\u2028\u3000\u200b\u0301\u001c";
        int[] cps = alphabet.codePoints().toArray();
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        for (int n = 0; n < 20_000; n++) {
            StringBuilder sb = new StringBuilder();
            int len = 1 + r.nextInt(24);
            for (int i = 0; i < len; i++) sb.appendCodePoint(r.nextInt(8) == 0 ? r.nextInt(0x3000) : cps[r.nextInt(cps.length)]);
            String s = sb.toString();
            java.util.List<String> a = new java.util.ArrayList<>(), b = new java.util.ArrayList<>();
            regex.split(s, (x, y) -> a.add(s.substring(x, y)));
            hand.split(s, (x, y) -> b.add(s.substring(x, y)));
            assertEquals(a, b, () -> "split of " + HuggingFaceDifferentialTest.escape(s));
        }
    }

    @Test
    void mergesInBothFormsAndBadFiles() throws Exception {
        // a tiny byte-level tokenizer built from the real alphabet: merges "a b" and ["ab","c"]
        StringBuilder vocab = new StringBuilder("{");
        for (int b = 0; b < 256; b++) {
            String c = String.valueOf(ByteLevel.BYTE_TO_CHAR[b]);
            vocab.append(new ObjectMapper().writeValueAsString(c)).append(':').append(b).append(',');
        }
        vocab.append("\"ab\":256,\"abc\":257}");
        String json = """
                {"added_tokens":[{"id":258,"content":"<x>","special":true,"normalized":false}],
                 "normalizer":{"type":"NFC"},
                 "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
                 "decoder":{"type":"ByteLevel"},
                 "model":{"type":"BPE","vocab":%s,"merges":["a b",["ab","c"]]}}""".formatted(vocab);
        QwenTokenizer t = QwenTokenizer.read(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), "mini");
        assertArrayEquals(new int[]{257, 258, 256, 'd'}, t.encode("abc<x>abd"));
        assertEquals("abc<x>abd", t.decode(new int[]{257, 258, 256, 'd'}, false));

        String badMerge = json.replace("\"a b\"", "\"a b c\"");
        var e = assertThrows(TokenizerException.class, () -> QwenTokenizer.read(new ByteArrayInputStream(badMerge.getBytes(StandardCharsets.UTF_8)), "mini"));
        assertTrue(e.getMessage().contains("merge 0"), e.getMessage());
        String unknownSymbol = json.replace("[\"ab\",\"c\"]", "[\"ab\",\"zz\"]");
        e = assertThrows(TokenizerException.class, () -> QwenTokenizer.read(new ByteArrayInputStream(unknownSymbol.getBytes(StandardCharsets.UTF_8)), "mini"));
        assertTrue(e.getMessage().contains("'zz'"), e.getMessage());
        String wordPiece = json.replace("\"type\":\"BPE\"", "\"type\":\"WordPiece\"");
        e = assertThrows(TokenizerException.class, () -> QwenTokenizer.read(new ByteArrayInputStream(wordPiece.getBytes(StandardCharsets.UTF_8)), "mini"));
        assertTrue(e.getMessage().contains("model.type is WordPiece"), e.getMessage());
        String template = json.replace("\"decoder\"", "\"post_processor\":{\"type\":\"TemplateProcessing\"},\"decoder\"");
        e = assertThrows(TokenizerException.class, () -> QwenTokenizer.read(new ByteArrayInputStream(template.getBytes(StandardCharsets.UTF_8)), "mini"));
        assertTrue(e.getMessage().contains("post_processor.type is TemplateProcessing"), e.getMessage());
        e = assertThrows(TokenizerException.class, () -> QwenTokenizer.read(new ByteArrayInputStream("[1,2]".getBytes(StandardCharsets.UTF_8)), "mini"));
        assertTrue(e.getMessage().contains("not a JSON object"), e.getMessage());
    }

    @Test
    void modelDirectoryTokenizerWins(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        assertSame(QwenTokenizer.bundled(), QwenTokenizer.forModel(dir));
        Files.createDirectories(dir.resolve("tokenizer"));
        try (InputStream in = new GZIPInputStream(QwenTokenizer.class.getResourceAsStream(QwenTokenizer.BUNDLED_RESOURCE))) {
            Files.write(dir.resolve("tokenizer/tokenizer.json"), in.readAllBytes());
        }
        QwenTokenizer own = QwenTokenizer.forModel(dir);
        assertNotSame(QwenTokenizer.bundled(), own);
        assertTrue(own.source().endsWith("tokenizer.json"));
        assertArrayEquals(new int[]{9707}, own.encode("Hello"));
    }

    private static String abbreviate(String s) {
        return s.length() > 60 ? s.substring(0, 60) + "…" : s;
    }
}
