package dev.zimage4j.engine;

import java.nio.file.Path;

/**
 * The built-in demo model {@code zimage serve} runs when no model is configured: a tiny random-weight
 * Z-Image in the Hugging Face layout, generated once into {@code ZIMAGE_HOME/demo-model}.
 */
public final class DemoModel {
    /** The model id the demo model is served as. */
    public static final String ID = "demo";

    private DemoModel() {
    }

    /** The demo model's directory, generating it first if it does not exist yet. */
    public static Path directory() {
        throw new ConfigException("no model configured and this build has no demo model generator yet (branch 'dit'); pass --model DIR");
    }
}
