package dev.zimage4j.server;

/**
 * An HTTP error answer: status, the request parameter at fault (or null) and a message saying what
 * was wrong and what is accepted. Rendered as {@code {"error": {"message", "type", "param"}}}.
 */
final class HttpError extends RuntimeException {
    final int status;
    final String param;

    HttpError(int status, String param, String message) {
        super(message);
        this.status = status;
        this.param = param;
    }

    static HttpError badRequest(String param, String message) {
        return new HttpError(400, param, message);
    }

    static HttpError notFound(String message) {
        return new HttpError(404, null, message);
    }
}
