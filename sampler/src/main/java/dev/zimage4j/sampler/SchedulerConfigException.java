package dev.zimage4j.sampler;

/** A {@code scheduler_config.json} value that is invalid or asks for an unsupported option; names the key. */
public class SchedulerConfigException extends IllegalArgumentException {
    private final String key;

    public SchedulerConfigException(String key, String problem) {
        super("scheduler config: " + key + " " + problem);
        this.key = key;
    }

    /** The configuration key at fault. */
    public String key() {
        return key;
    }
}
