package dev.zimage4j.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * The Qwen2/Qwen3 byte-level BPE tokenizer, read from a Hugging Face {@code tokenizer.json}, giving
 * the same ids as Hugging Face {@code tokenizers}.
 *
 * <p>Encoding, in the order of the reference:
 * <ol>
 *   <li>added tokens ({@code <|im_start|>}, {@code <|im_end|>}, …) are found verbatim in the raw text
 *       (leftmost, longest first) and become their ids; the text between them goes on;</li>
 *   <li>normalizer (NFC for Qwen);</li>
 *   <li>pre-tokenizer: the split regex (Qwen2's pattern: contractions, letter runs with one optional
 *       leading non-letter, single digits, punctuation runs, newline runs, whitespace), every match and
 *       every gap a piece;</li>
 *   <li>each piece's UTF-8 bytes are BPE-merged ({@link Bpe}) and looked up in the vocabulary.</li>
 * </ol>
 * No BOS/EOS is added (the Qwen post-processor adds nothing).
 *
 * <p>Qwen2's split pattern is matched by {@link Qwen2Split} (hand-written, same semantics, faster);
 * any other pattern by {@link java.util.regex}.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class QwenTokenizer {
    /** Resource holding the bundled Qwen3 tokenizer.json (gzip); see {@code PROVENANCE.md} next to it. */
    public static final String BUNDLED_RESOURCE = "/dev/zimage4j/tokenizer/qwen3-tokenizer.json.gz";
    /**
     * SHA-256 of {@link #BUNDLED_RESOURCE}'s bytes (checked by {@code TokenizerCacheTest}): the bundled
     * tokenizer's cache key, so that a start with a cache hit reads neither the 2 MB resource nor hashes it.
     */
    static final String BUNDLED_SHA256 = "d054bbc8fe673469a154aec9304d325326228f8fd11b6486a63f95f4f34cb028";
    private static final String BUNDLED_SOURCE = "bundled Qwen3 tokenizer";
    /** The GPT-2 split used by a ByteLevel pre-tokenizer with {@code use_regex: true}. */
    private static final String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private static volatile QwenTokenizer bundled;

    private final String source;
    private final Bpe bpe;
    private final AddedTokens rawAdded;        // matched before normalization (normalized: false)
    private final AddedTokens normalizedAdded; // matched after normalization (normalized: true)
    private final Map<Integer, AddedToken> addedById = new HashMap<>();
    private final Normalizer.Form[] normalizers;
    private final Splitter[] splits;

    /** One entry of {@code added_tokens}. */
    public record AddedToken(int id, String content, boolean special, boolean normalized) {
    }

    /** What the JSON parse of a tokenizer.json yields: the small rest of the document, vocab, merges (null when absent). */
    private record JsonParse(ObjectNode root, Map<String, Integer> vocab, List<String[]> merges) {
    }

    /** The tokenizer of a JSON parse: checks the model section, then builds the BPE tables. */
    private static QwenTokenizer fromParse(JsonParse p, String source) {
        checkModel(p.root().path("model"), source);
        if (p.vocab() == null || p.vocab().isEmpty()) throw new TokenizerException(source + ": model.vocab is missing or empty");
        if (p.merges() == null) throw new TokenizerException(source + ": model.merges is missing");
        return new QwenTokenizer(p.root(), BpeTables.build(p.vocab(), p.merges(), source), source);
    }

    /** The model section's settings this tokenizer supports (everything but vocab and merges). */
    private static void checkModel(JsonNode model, String source) {
        if (!"BPE".equals(model.path("type").asText()))
            throw unsupported(source, "model.type", model.path("type").asText("missing"), "BPE");
        if (!model.path("dropout").isNull() && !model.path("dropout").isMissingNode())
            throw unsupported(source, "model.dropout", model.path("dropout").toString(), "null");
        for (String affix : new String[]{"continuing_subword_prefix", "end_of_word_suffix"}) {
            JsonNode a = model.path(affix);
            if (!a.isMissingNode() && !a.isNull() && !a.asText().isEmpty())
                throw unsupported(source, "model." + affix, a.toString(), "empty or null");
        }
        if (model.path("byte_fallback").asBoolean(false))
            throw unsupported(source, "model.byte_fallback", "true", "false");
    }

    private QwenTokenizer(JsonNode root, BpeTables tables, String source) {
        this.source = source;
        JsonNode model = root.path("model");
        checkModel(model, source);
        this.bpe = new Bpe(tables, model.path("ignore_merges").asBoolean(false), source);

        List<AddedToken> raw = new ArrayList<>(), norm = new ArrayList<>();
        for (JsonNode t : root.path("added_tokens")) {
            String content = t.path("content").asText();
            for (String flag : new String[]{"lstrip", "rstrip", "single_word"})
                if (t.path(flag).asBoolean(false))
                    throw unsupported("added_tokens['" + content + "']." + flag, "true", "false");
            if (content.isEmpty()) throw new TokenizerException(source + ": added token " + t.path("id") + " has empty content");
            var token = new AddedToken(t.path("id").asInt(), content, t.path("special").asBoolean(false), t.path("normalized").asBoolean(true));
            addedById.put(token.id(), token);
            (token.normalized() ? norm : raw).add(token);
        }
        this.rawAdded = new AddedTokens(raw);
        this.normalizedAdded = new AddedTokens(norm);
        this.normalizers = normalizers(root.path("normalizer"), "normalizer").toArray(Normalizer.Form[]::new);
        this.splits = splits(root.path("pre_tokenizer")).toArray(Splitter[]::new);
        // the pipeline's tokenizer call runs the post-processor; Qwen's (ByteLevel) adds no tokens, a template one would
        JsonNode post = root.path("post_processor");
        if (!post.isNull() && !post.isMissingNode() && !"ByteLevel".equals(post.path("type").asText()))
            throw unsupported("post_processor.type", post.path("type").asText(), "ByteLevel or null (no tokens added around the text)");
        JsonNode decoder = root.path("decoder");
        if (!decoder.isNull() && !decoder.isMissingNode() && !"ByteLevel".equals(decoder.path("type").asText()))
            throw unsupported("decoder.type", decoder.path("type").asText(), "ByteLevel");
    }

    // ------------------------------------------------------------------------------------ loading

    /**
     * Reads a {@code tokenizer.json} file (or a gzip of one, by its {@code .gz} name), through the
     * binary {@link TokenizerCache} when one is configured.
     */
    public static QwenTokenizer load(Path tokenizerJson) {
        byte[] file;
        try {
            file = Files.readAllBytes(tokenizerJson);
        } catch (IOException e) {
            throw new TokenizerException("cannot read tokenizer " + tokenizerJson + ": " + e.getMessage(), e);
        }
        return cached(file, tokenizerJson.toString().endsWith(".gz"), tokenizerJson.toString(), TokenizerCache.configured());
    }

    /**
     * Reads a {@code tokenizer.json} from a stream; {@code source} names it in messages. The large
     * {@code model.vocab} and {@code model.merges} are streamed (no JSON tree), the rest is read as a tree.
     */
    public static QwenTokenizer read(InputStream json, String source) {
        return fromParse(parse(json, source), source);
    }

    /**
     * The tokenizer of {@code file} (the bytes of a tokenizer.json, gzipped when {@code gzip}): from
     * {@code cache} when it holds the parse of these exact bytes, else parsed from JSON and stored there.
     * A null cache always parses.
     */
    static QwenTokenizer cached(byte[] file, boolean gzip, String source, TokenizerCache cache) {
        ObjectMapper mapper = new ObjectMapper();
        byte[] key = cache == null ? null : TokenizerCache.sha256(file);
        QwenTokenizer hit = cache == null ? null : fromCache(cache, key, source, mapper);
        if (hit != null) return hit;
        JsonParse p;
        try (InputStream in = gzip ? new GZIPInputStream(new ByteArrayInputStream(file), 1 << 16) : new ByteArrayInputStream(file)) {
            p = parse(in, source);
        } catch (IOException e) {
            throw new TokenizerException("cannot read tokenizer " + source + ": " + e.getMessage(), e);
        }
        // validated before caching: a tokenizer this class rejects is never stored
        QwenTokenizer t = fromParse(p, source);
        if (cache != null) cache.write(key, p.root(), t.bpe.tables(), mapper);
        return t;
    }

    /** The tokenizer in {@code cache} under {@code key}, or null on a miss. */
    private static QwenTokenizer fromCache(TokenizerCache cache, byte[] key, String source, ObjectMapper mapper) {
        TokenizerCache.Entry hit = cache.read(key, mapper);
        if (hit == null) return null;
        try {
            return new QwenTokenizer(hit.root(), hit.tables(), source);
        } catch (TokenizerException stale) {
            return null; // an entry this version rejects: the JSON parse says what is wrong, or replaces it
        }
    }

    private static JsonParse parse(InputStream json, String source) {
        ObjectMapper mapper = new ObjectMapper();
        try (JsonParser p = mapper.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new TokenizerException(source + ": not a JSON object");
            ObjectNode root = mapper.createObjectNode();
            ObjectNode model = mapper.createObjectNode();
            Map<String, Integer> vocab = null;
            List<String[]> merges = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (!field.equals("model") || p.currentToken() != JsonToken.START_OBJECT) {
                    root.set(field, mapper.readTree(p));
                    continue;
                }
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String mf = p.currentName();
                    p.nextToken();
                    if (mf.equals("vocab") && p.currentToken() == JsonToken.START_OBJECT) vocab = streamVocab(p, source);
                    else if (mf.equals("merges") && p.currentToken() == JsonToken.START_ARRAY) merges = streamMerges(p, source);
                    else model.set(mf, mapper.readTree(p));
                }
                root.set("model", model);
            }
            return new JsonParse(root, vocab, merges);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new TokenizerException(source + ": not valid tokenizer JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + source, e);
        }
    }

    private static Map<String, Integer> streamVocab(JsonParser p, String source) throws IOException {
        Map<String, Integer> vocab = new HashMap<>(1 << 19);
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String token = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_NUMBER_INT)
                throw new TokenizerException(source + ": model.vocab['" + token + "'] is not an integer id");
            vocab.put(token, p.getIntValue());
        }
        return vocab;
    }

    /** Merges in either form: {@code ["a", "b"]} or {@code "a b"}. */
    private static List<String[]> streamMerges(JsonParser p, String source) throws IOException {
        List<String[]> out = new ArrayList<>(1 << 18);
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
            if (t == JsonToken.VALUE_STRING) {
                String[] parts = p.getText().split(" ", -1);
                if (parts.length != 2)
                    throw new TokenizerException(source + ": merge " + out.size() + " '" + p.getText() + "' is not two symbols separated by one space");
                out.add(parts);
            } else if (t == JsonToken.START_ARRAY && p.nextToken() == JsonToken.VALUE_STRING) {
                String a = p.getText();
                String b = p.nextToken() == JsonToken.VALUE_STRING ? p.getText() : null;
                if (b == null || p.nextToken() != JsonToken.END_ARRAY)
                    throw new TokenizerException(source + ": merge " + out.size() + " is not [\"a\", \"b\"]");
                out.add(new String[]{a, b});
            } else {
                throw new TokenizerException(source + ": merge " + out.size() + " is neither [\"a\", \"b\"] nor \"a b\"");
            }
        }
        return out;
    }

    /** The Qwen3 tokenizer shipped with zimage4j (the file Z-Image-Turbo ships), loaded once. */
    public static QwenTokenizer bundled() {
        QwenTokenizer t = bundled;
        if (t == null) {
            synchronized (QwenTokenizer.class) {
                if ((t = bundled) == null) bundled = t = loadBundled(TokenizerCache.configured());
            }
        }
        return t;
    }

    /** The bundled tokenizer: from {@code cache} under {@link #BUNDLED_SHA256} when there, else from the resource (and cached). */
    static QwenTokenizer loadBundled(TokenizerCache cache) {
        if (cache != null) {
            QwenTokenizer hit = fromCache(cache, java.util.HexFormat.of().parseHex(BUNDLED_SHA256), BUNDLED_SOURCE, new ObjectMapper());
            if (hit != null) return hit;
        }
        InputStream in = QwenTokenizer.class.getResourceAsStream(BUNDLED_RESOURCE);
        if (in == null) throw new TokenizerException("bundled tokenizer resource " + BUNDLED_RESOURCE + " is missing from the class path");
        try (in) {
            return cached(in.readAllBytes(), true, BUNDLED_SOURCE, cache); // keyed by the bytes' own hash, which is BUNDLED_SHA256
        } catch (IOException e) {
            throw new TokenizerException("cannot read bundled tokenizer: " + e.getMessage(), e);
        }
    }

    /**
     * The tokenizer for a model directory: its own {@code tokenizer/tokenizer.json} when present,
     * otherwise the bundled Qwen3 one.
     */
    public static QwenTokenizer forModel(Path modelDir) {
        Path own = modelDir.resolve("tokenizer").resolve("tokenizer.json");
        return Files.isRegularFile(own) ? load(own) : bundled();
    }

    private List<Normalizer.Form> normalizers(JsonNode n, String where) {
        if (n.isNull() || n.isMissingNode()) return List.of();
        String type = n.path("type").asText();
        return switch (type) {
            case "NFC" -> List.of(Normalizer.Form.NFC);
            case "NFD" -> List.of(Normalizer.Form.NFD);
            case "NFKC" -> List.of(Normalizer.Form.NFKC);
            case "NFKD" -> List.of(Normalizer.Form.NFKD);
            case "Sequence" -> {
                List<Normalizer.Form> all = new ArrayList<>();
                int i = 0;
                for (JsonNode c : n.path("normalizers")) all.addAll(normalizers(c, where + ".normalizers[" + i++ + "]"));
                yield all;
            }
            default -> throw unsupported(where + ".type", type, "NFC, NFD, NFKC, NFKD or a Sequence of them");
        };
    }

    /** The split steps of the pre-tokenizer, in order; the trailing ByteLevel step is required. */
    private List<Splitter> splits(JsonNode pre) {
        List<JsonNode> steps = new ArrayList<>();
        if ("Sequence".equals(pre.path("type").asText())) pre.path("pretokenizers").forEach(steps::add);
        else if (!pre.isMissingNode() && !pre.isNull()) steps.add(pre);
        List<Splitter> out = new ArrayList<>();
        boolean byteLevel = false;
        for (int i = 0; i < steps.size(); i++) {
            JsonNode s = steps.get(i);
            String where = "pre_tokenizer step " + i;
            switch (s.path("type").asText()) {
                case "Split" -> {
                    if (byteLevel) throw unsupported(where, "Split after ByteLevel", "ByteLevel last");
                    if (!"Isolated".equals(s.path("behavior").asText()))
                        throw unsupported(where + ".behavior", s.path("behavior").asText(), "Isolated");
                    if (s.path("invert").asBoolean(false)) throw unsupported(where + ".invert", "true", "false");
                    JsonNode p = s.path("pattern");
                    if (p.has("Regex")) out.add(splitter(p.get("Regex").asText(), where));
                    else if (p.has("String")) out.add(Splitter.regex(Pattern.compile(Pattern.quote(p.get("String").asText()))));
                    else throw new TokenizerException(source + ": " + where + ".pattern has neither Regex nor String");
                }
                case "ByteLevel" -> {
                    if (s.path("add_prefix_space").asBoolean(false))
                        throw unsupported(where + ".add_prefix_space", "true", "false");
                    if (s.path("use_regex").asBoolean(true)) out.add(splitter(GPT2_PATTERN, where));
                    byteLevel = true;
                }
                default -> throw unsupported(where + ".type", s.path("type").asText(), "Split or ByteLevel");
            }
        }
        if (!byteLevel) throw new TokenizerException(source + ": pre_tokenizer has no ByteLevel step; only byte-level BPE is supported");
        return out;
    }

    /** The splitter for a pattern: {@link Qwen2Split} for Qwen2's, the compiled regex for any other. */
    private Splitter splitter(String regex, String where) {
        if (regex.equals(Qwen2Split.PATTERN)) return new Qwen2Split();
        return Splitter.regex(compile(regex, source + ": " + where));
    }

    /**
     * Compiles a Hugging Face (Oniguruma) split pattern for {@link Pattern}: Unicode {@code \s}
     * (White_Space, as Oniguruma's) and Unicode case folding in {@code (?i:…)} (so {@code 'ſ} matches
     * {@code 's} as it does there). Package-private for the test that holds {@link Qwen2Split} to it.
     */
    static Pattern compile(String regex, String where) {
        try {
            return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new TokenizerException(where + " pattern does not compile in Java: " + e.getDescription(), e);
        }
    }

    private TokenizerException unsupported(String field, String value, String expected) {
        return unsupported(source, field, value, expected);
    }

    private static TokenizerException unsupported(String source, String field, String value, String expected) {
        return new TokenizerException(source + ": " + field + " is " + value + "; this tokenizer supports only " + expected);
    }

    // ------------------------------------------------------------------------------------ encode

    /**
     * Token ids of {@code text}, added tokens included; no special tokens are added around it.
     *
     * @throws IllegalArgumentException if {@code text} holds an unpaired surrogate (not Unicode text; it
     *                                  has no UTF-8 form to tokenize)
     */
    public int[] encode(String text) {
        checkSurrogates(text);
        IntList out = new IntList(text.length() / 3 + 8);
        rawAdded.split(text, out, (segment, o) -> {
            String normalized = normalize(segment);
            normalizedAdded.split(normalized, o, this::encodePlain);
        });
        return out.toArray();
    }

    private static void checkSurrogates(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!Character.isSurrogate(c)) continue;
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
                continue;
            }
            throw new IllegalArgumentException("text has an unpaired surrogate U+" + Integer.toHexString(c).toUpperCase()
                    + " at index " + i + "; it is not valid Unicode");
        }
    }

    private String normalize(String s) {
        for (Normalizer.Form f : normalizers) if (!Normalizer.isNormalized(s, f)) s = Normalizer.normalize(s, f);
        return s;
    }

    /** Text with no added tokens: pre-tokenize, then BPE each piece. */
    private void encodePlain(String text, IntList out) {
        encodePieces(text, 0, out);
    }

    private void encodePieces(String text, int step, IntList out) {
        if (text.isEmpty()) return;
        if (step == splits.length) {
            out.addAll(bpe.encode(text, text.getBytes(StandardCharsets.UTF_8)));
            return;
        }
        splits[step].split(text, (start, end) -> encodePieces(text.substring(start, end), step + 1, out));
    }

    // ------------------------------------------------------------------------------------ decode

    /**
     * Text of {@code ids}, as Hugging Face decodes it: added tokens as their content (left out when
     * {@code skipSpecialTokens} and they are special), runs of vocabulary tokens mapped back to bytes
     * and read as UTF-8 (invalid sequences become U+FFFD).
     *
     * @throws TokenizerException for an id neither in the vocabulary nor an added token
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        StringBuilder text = new StringBuilder();
        ByteArrayOutputStream run = new ByteArrayOutputStream();
        for (int id : ids) {
            AddedToken added = addedById.get(id);
            if (added != null) {
                if (skipSpecialTokens && added.special()) continue;
                text.append(run.toString(StandardCharsets.UTF_8));
                run.reset();
                text.append(added.content());
                continue;
            }
            String token = bpe.token(id);
            if (token == null) throw new TokenizerException("token id " + id + " is not in the vocabulary of " + source);
            ByteLevel.appendBytes(token, run);
        }
        return text.append(run.toString(StandardCharsets.UTF_8)).toString();
    }

    // ------------------------------------------------------------------------------------ lookups

    /** The id of a token string (an added token's content or a vocabulary symbol), or -1. */
    public int tokenId(String token) {
        for (AddedToken t : addedById.values()) if (t.content().equals(token)) return t.id();
        return bpe.id(token);
    }

    /** The id of {@code token}, or a {@link TokenizerException} naming it and this tokenizer. */
    public int requireTokenId(String token) {
        int id = tokenId(token);
        if (id < 0) throw new TokenizerException(source + " has no token '" + token + "'");
        return id;
    }

    /** Every added token, by id. */
    public Map<Integer, AddedToken> addedTokens() {
        return Map.copyOf(addedById);
    }

    /** The BPE model (package-private, for tests). */
    Bpe bpe() {
        return bpe;
    }

    /** Where the tokenizer was read from. */
    public String source() {
        return source;
    }

    @Override
    public String toString() {
        return "QwenTokenizer(" + source + ", " + bpe.size() + " vocabulary + " + addedById.size() + " added tokens)";
    }
}
