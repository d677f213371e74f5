package dev.zimage4j.safetensors;

/** The 8-byte header length is absurd (over the 100 MB cap), runs past the end of the file, or the file is shorter than 8 bytes. */
public class HeaderLengthException extends InvalidHeaderException {
    public HeaderLengthException(String message) {
        super(message);
    }
}
