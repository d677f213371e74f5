package dev.zimage4j.bench.chart;

import java.util.HashMap;
import java.util.Map;

/**
 * A 5×7 pixel bitmap font for chart labels (no {@code java.desktop}: deployments use a trimmed runtime).
 * Lower-case letters are drawn with the upper-case glyphs; characters without a glyph are drawn as '?'.
 * Each glyph is seven rows of five pixels, written as they look ('#' = ink).
 */
public final class BitmapFont {
    /** Glyph width and height in font pixels; advance is {@code WIDTH + 1}. */
    public static final int WIDTH = 5, HEIGHT = 7;

    private static final Map<Character, int[]> GLYPHS = new HashMap<>();

    private static void glyph(char c, String... rows) {
        if (rows.length != HEIGHT) throw new IllegalArgumentException("glyph " + c + " has " + rows.length + " rows");
        int[] bits = new int[HEIGHT];
        for (int y = 0; y < HEIGHT; y++) {
            String r = rows[y];
            if (r.length() != WIDTH) throw new IllegalArgumentException("glyph " + c + " row " + y + " is not " + WIDTH + " wide");
            for (int x = 0; x < WIDTH; x++) if (r.charAt(x) == '#') bits[y] |= 1 << (WIDTH - 1 - x);
        }
        GLYPHS.put(c, bits);
    }

    static {
        glyph(' ', "     ", "     ", "     ", "     ", "     ", "     ", "     ");
        glyph('0', " ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### ");
        glyph('1', "  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### ");
        glyph('2', " ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####");
        glyph('3', "#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### ");
        glyph('4', "   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # ");
        glyph('5', "#####", "#    ", "#### ", "    #", "    #", "#   #", " ### ");
        glyph('6', "  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### ");
        glyph('7', "#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   ");
        glyph('8', " ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### ");
        glyph('9', " ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  ");
        glyph('A', " ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #");
        glyph('B', "#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### ");
        glyph('C', " ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### ");
        glyph('D', "###  ", "#  # ", "#   #", "#   #", "#   #", "#  # ", "###  ");
        glyph('E', "#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####");
        glyph('F', "#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    ");
        glyph('G', " ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####");
        glyph('H', "#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #");
        glyph('I', " ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### ");
        glyph('J', "  ###", "   # ", "   # ", "   # ", "   # ", "#  # ", " ##  ");
        glyph('K', "#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #");
        glyph('L', "#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####");
        glyph('M', "#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #");
        glyph('N', "#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #");
        glyph('O', " ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### ");
        glyph('P', "#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    ");
        glyph('Q', " ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #");
        glyph('R', "#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #");
        glyph('S', " ####", "#    ", "#    ", " ### ", "    #", "    #", "#### ");
        glyph('T', "#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ");
        glyph('U', "#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### ");
        glyph('V', "#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  ");
        glyph('W', "#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # ");
        glyph('X', "#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #");
        glyph('Y', "#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  ");
        glyph('Z', "#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####");
        glyph('.', "     ", "     ", "     ", "     ", "     ", " ##  ", " ##  ");
        glyph(',', "     ", "     ", "     ", "     ", " ##  ", "  #  ", " #   ");
        glyph(':', "     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     ");
        glyph(';', "     ", " ##  ", " ##  ", "     ", " ##  ", "  #  ", " #   ");
        glyph('-', "     ", "     ", "     ", "#####", "     ", "     ", "     ");
        glyph('+', "     ", "  #  ", "  #  ", "#####", "  #  ", "  #  ", "     ");
        glyph('=', "     ", "     ", "#####", "     ", "#####", "     ", "     ");
        glyph('_', "     ", "     ", "     ", "     ", "     ", "     ", "#####");
        glyph('/', "     ", "    #", "   # ", "  #  ", " #   ", "#    ", "     ");
        glyph('(', "   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # ");
        glyph(')', " #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   ");
        glyph('[', " ### ", " #   ", " #   ", " #   ", " #   ", " #   ", " ### ");
        glyph(']', " ### ", "   # ", "   # ", "   # ", "   # ", "   # ", " ### ");
        glyph('%', "##   ", "##  #", "   # ", "  #  ", " #   ", "#  ##", "   ##");
        glyph('<', "   # ", "  #  ", " #   ", "#    ", " #   ", "  #  ", "   # ");
        glyph('>', " #   ", "  #  ", "   # ", "    #", "   # ", "  #  ", " #   ");
        glyph('\'', "  #  ", "  #  ", " #   ", "     ", "     ", "     ", "     ");
        glyph('"', " # # ", " # # ", "     ", "     ", "     ", "     ", "     ");
        glyph('#', " # # ", " # # ", "#####", " # # ", "#####", " # # ", " # # ");
        glyph('*', "     ", "  #  ", "# # #", " ### ", "# # #", "  #  ", "     ");
        glyph('!', "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "     ", "  #  ");
        glyph('?', " ### ", "#   #", "    #", "   # ", "  #  ", "     ", "  #  ");
        glyph('@', " ### ", "#   #", "# ###", "# # #", "# ###", "#    ", " ####");
        glyph('×', "     ", "#   #", " # # ", "  #  ", " # # ", "#   #", "     ");
        glyph('→', "     ", "  #  ", "   # ", "#####", "   # ", "  #  ", "     ");
        glyph('≤', "   # ", "  #  ", " #   ", "  #  ", "   # ", "     ", "#####");
        glyph('µ', "     ", "#   #", "#   #", "#   #", "##  #", "# ## ", "#    ");
    }

    private BitmapFont() {
    }

    /** The seven row bitmaps of {@code c} (bit 4 = leftmost pixel). */
    public static int[] glyph(char c) {
        int[] g = GLYPHS.get(Character.toUpperCase(c));
        return g != null ? g : GLYPHS.get('?');
    }

    /** Width in image pixels of {@code text} drawn at {@code scale}. */
    public static int textWidth(String text, int scale) {
        return text.isEmpty() ? 0 : (text.length() * (WIDTH + 1) - 1) * scale;
    }
}
