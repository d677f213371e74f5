package dev.zimage4j.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Optional;

/**
 * The web page's static files, served from the jar ({@code dev/zimage4j/server/web/}): {@code /} is
 * {@code index.html}. Only the files listed here are served, so no request path can reach anything else
 * on the class path.
 */
final class WebPage {

    /** A file of the page: its bytes and its {@code Content-Type}. */
    record Asset(byte[] bytes, String contentType) {
    }

    private static final Map<String, String> FILES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "app.js", "text/javascript; charset=utf-8",
            "style.css", "text/css; charset=utf-8");

    private WebPage() {
    }

    /**
     * The asset for a request path ({@code "/"}, {@code "/app.js"}, …), or empty when the path is not one
     * of the page's files.
     */
    static Optional<Asset> find(String path) {
        String name = path.equals("/") ? "index.html" : path.startsWith("/") ? path.substring(1) : path;
        String type = FILES.get(name);
        if (type == null) return Optional.empty();
        try (InputStream in = WebPage.class.getResourceAsStream("web/" + name)) {
            if (in == null) throw new IllegalStateException("web page file " + name + " is missing from the jar");
            return Optional.of(new Asset(in.readAllBytes(), type));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
