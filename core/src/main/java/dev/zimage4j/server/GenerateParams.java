package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zimage4j.engine.EngineConfig;
import dev.zimage4j.pipeline.GenerationRequest;

import java.util.Iterator;
import java.util.Set;

/**
 * The parsed body of {@code POST /v1/generate} or {@code POST /v1/images/generations}: the generation
 * request, the model and how to answer. Every field is type-checked here (a 400 naming the field);
 * ranges are checked by {@link GenerationRequest#validate()}.
 *
 * @param request the request (defaults filled in from the configuration)
 * @param model   the model id, or null for the default model
 * @param output  how a synchronous answer carries the images
 */
record GenerateParams(GenerationRequest request, String model, Output output) {

    /** How images are returned: raw PNG body, base64 inside JSON, or URLs into /v1/images. */
    enum Output {PNG, BASE64, URL}

    private static final Set<String> FIELDS = Set.of("prompt", "negative_prompt", "width", "height", "steps",
            "guidance", "seed", "count", "model", "output");
    /** OpenAI's fields we accept; quality, style and user are accepted and ignored. */
    private static final Set<String> OPENAI_FIELDS = Set.of("prompt", "negative_prompt", "model", "n", "size",
            "response_format", "seed", "steps", "guidance", "quality", "style", "user");

    /** Parses a {@code /v1/generate} body. */
    static GenerateParams parse(JsonNode body, EngineConfig config) {
        checkFields(body, FIELDS);
        int[] size = config.defaultWidthHeight();
        GenerationRequest r = request(body, config, optInt(body, "width", size[0]), optInt(body, "height", size[1]), "count");
        String out = optString(body, "output", "png");
        Output output = switch (out) {
            case "png" -> Output.PNG;
            case "base64" -> Output.BASE64;
            case "url" -> Output.URL;
            default -> throw HttpError.badRequest("output", "output must be one of png, base64, url; got '" + out + "'");
        };
        r.validate();
        if (output == Output.PNG && r.count() > 1)
            throw HttpError.badRequest("output", "output png returns one image; use base64 or url for count " + r.count());
        return new GenerateParams(r, optString(body, "model", null), output);
    }

    /** Parses an OpenAI {@code /v1/images/generations} body (size "WxH", n, response_format b64_json|url). */
    static GenerateParams parseOpenAi(JsonNode body, EngineConfig config) {
        checkFields(body, OPENAI_FIELDS);
        int[] size = config.defaultWidthHeight();
        if (body.hasNonNull("size")) {
            String s = optString(body, "size", null);
            String[] p = s.toLowerCase().split("x");
            try {
                if (p.length != 2) throw new NumberFormatException();
                size = new int[]{Integer.parseInt(p[0]), Integer.parseInt(p[1])};
            } catch (NumberFormatException e) {
                throw HttpError.badRequest("size", "size must be WIDTHxHEIGHT, e.g. 1024x1024; got '" + s + "'");
            }
        }
        GenerationRequest r = request(body, config, size[0], size[1], "n");
        String fmt = optString(body, "response_format", "b64_json");
        Output output = switch (fmt) {
            case "b64_json" -> Output.BASE64;
            case "url" -> Output.URL;
            default -> throw HttpError.badRequest("response_format", "response_format must be b64_json or url; got '" + fmt + "'");
        };
        try {
            r.validate();
        } catch (dev.zimage4j.pipeline.InvalidRequestException e) {
            // OpenAI spells count "n" and width×height "size"
            String f = switch (e.field()) {
                case "count" -> "n";
                case "width", "height" -> "size";
                default -> e.field();
            };
            throw HttpError.badRequest(f, e.getMessage());
        }
        return new GenerateParams(r, optString(body, "model", null), output);
    }

    /** The fields both APIs share (text-to-image: no init image); {@code countField} is how the API spells the image count. */
    private static GenerationRequest request(JsonNode body, EngineConfig config, int width, int height, String countField) {
        return new GenerationRequest(
                requiredString(body, "prompt"),
                optString(body, "negative_prompt", ""),
                width, height,
                optInt(body, "steps", config.defaultSteps()),
                optNumber(body, "guidance", 0.0),
                optLong(body, "seed", 0L),
                optInt(body, countField, 1),
                null, 0.6);
    }

    private static void checkFields(JsonNode body, Set<String> known) {
        if (body == null || !body.isObject()) throw HttpError.badRequest(null, "request body must be a JSON object");
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f))
                throw HttpError.badRequest(f, "unknown field '" + f + "'; accepted: " + String.join(", ", known.stream().sorted().toList()));
        }
    }

    private static String requiredString(JsonNode body, String f) {
        JsonNode n = body.get(f);
        if (n == null || n.isNull()) throw HttpError.badRequest(f, f + " is required");
        if (!n.isTextual()) throw HttpError.badRequest(f, f + " must be a string, got " + n.getNodeType().name().toLowerCase());
        return n.textValue();
    }

    private static String optString(JsonNode body, String f, String def) {
        JsonNode n = body.get(f);
        if (n == null || n.isNull()) return def;
        if (!n.isTextual()) throw HttpError.badRequest(f, f + " must be a string, got " + n.getNodeType().name().toLowerCase());
        return n.textValue();
    }

    private static int optInt(JsonNode body, String f, int def) {
        long v = optLong(body, f, def);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw HttpError.badRequest(f, f + " is out of range: " + v);
        return (int) v;
    }

    private static long optLong(JsonNode body, String f, long def) {
        JsonNode n = body.get(f);
        if (n == null || n.isNull()) return def;
        if (!n.isIntegralNumber()) throw HttpError.badRequest(f, f + " must be an integer, got " + describe(n));
        if (!n.canConvertToLong()) throw HttpError.badRequest(f, f + " is out of range: " + n.asText());
        return n.longValue();
    }

    private static double optNumber(JsonNode body, String f, double def) {
        JsonNode n = body.get(f);
        if (n == null || n.isNull()) return def;
        if (!n.isNumber()) throw HttpError.badRequest(f, f + " must be a number, got " + describe(n));
        return n.doubleValue();
    }

    private static String describe(JsonNode n) {
        String t = n.isNumber() ? "number" : n.getNodeType().name().toLowerCase();
        String v = n.toString();
        return t + " " + (v.length() > 40 ? v.substring(0, 40) + "…" : v);
    }
}
