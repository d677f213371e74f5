package dev.zimage4j.png;

import java.util.Map;

/**
 * A decoded PNG: 8-bit RGB pixels and its text chunks.
 *
 * @param width  pixels
 * @param height pixels
 * @param rgb    {@code width·height·3} bytes, row-major HWC (alpha, if the file had any, is dropped)
 * @param text   keyword → text of every tEXt, zTXt and iTXt chunk, in file order
 */
public record PngImage(int width, int height, byte[] rgb, Map<String, String> text) {
}
