package dev.zimage4j.sampler;

import java.util.Map;

/**
 * The settings of diffusers' {@code FlowMatchEulerDiscreteScheduler} that Z-Image uses, as found in
 * {@code scheduler/scheduler_config.json}.
 *
 * @param numTrainTimesteps  {@code num_train_timesteps} (1000): timestep = σ · this
 * @param shift              {@code shift}: static shift {@code σ' = s·σ / (1 + (s−1)·σ)} (Turbo: 3.0)
 * @param useDynamicShifting {@code use_dynamic_shifting}: shift by the resolution-dependent {@code mu} instead
 * @param baseShift          {@code base_shift}: mu at {@code baseImageSeqLen} image tokens
 * @param maxShift           {@code max_shift}: mu at {@code maxImageSeqLen} image tokens
 * @param baseImageSeqLen    {@code base_image_seq_len}
 * @param maxImageSeqLen     {@code max_image_seq_len}
 * @param timeShiftType      {@code time_shift_type}: how mu shifts σ
 * @param shiftTerminal      {@code shift_terminal}: stretch the schedule to end at this σ, or NaN for none
 */
public record SchedulerConfig(int numTrainTimesteps, double shift, boolean useDynamicShifting, double baseShift,
                              double maxShift, int baseImageSeqLen, int maxImageSeqLen, TimeShift timeShiftType,
                              double shiftTerminal) {

    /** The two dynamic-shift formulas of diffusers. */
    public enum TimeShift {
        /** {@code σ' = e^mu / (e^mu + (1/σ − 1))} */
        EXPONENTIAL,
        /** {@code σ' = mu / (mu + (1/σ − 1))} */
        LINEAR
    }

    public SchedulerConfig {
        if (numTrainTimesteps < 1) throw new SchedulerConfigException("num_train_timesteps", "must be ≥ 1, got " + numTrainTimesteps);
        if (!(shift > 0)) throw new SchedulerConfigException("shift", "must be > 0, got " + shift);
        if (useDynamicShifting && maxImageSeqLen == baseImageSeqLen)
            throw new SchedulerConfigException("max_image_seq_len", "must differ from base_image_seq_len for dynamic shifting");
        if (!Double.isNaN(shiftTerminal) && !(shiftTerminal >= 0 && shiftTerminal < 1))
            throw new SchedulerConfigException("shift_terminal", "must be in [0, 1), got " + shiftTerminal);
    }

    /** Z-Image-Turbo's scheduler: static shift 3.0, 1000 train timesteps, diffusers' other defaults. */
    public static SchedulerConfig turbo() {
        return new SchedulerConfig(1000, 3.0, false, 0.5, 1.15, 256, 4096, TimeShift.EXPONENTIAL, Double.NaN);
    }

    /**
     * Reads a parsed {@code scheduler_config.json} (JSON numbers, booleans, strings and nulls). Keys that are
     * absent take diffusers' constructor defaults; options this project does not implement (Karras /
     * exponential / beta sigmas, inverted sigmas, stochastic sampling) are rejected when switched on.
     *
     * @throws SchedulerConfigException naming the key at fault
     */
    public static SchedulerConfig fromJson(Map<String, ?> json) {
        String cls = string(json, "_class_name", "FlowMatchEulerDiscreteScheduler");
        if (!cls.equals("FlowMatchEulerDiscreteScheduler"))
            throw new SchedulerConfigException("_class_name", "must be FlowMatchEulerDiscreteScheduler, got " + cls);
        for (String flag : new String[]{"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "invert_sigmas",
                "stochastic_sampling"}) {
            if (bool(json, flag, false)) throw new SchedulerConfigException(flag, "is not supported (Z-Image does not use it)");
        }
        String type = string(json, "time_shift_type", "exponential");
        TimeShift timeShift = switch (type) {
            case "exponential" -> TimeShift.EXPONENTIAL;
            case "linear" -> TimeShift.LINEAR;
            default -> throw new SchedulerConfigException("time_shift_type", "must be \"exponential\" or \"linear\", got \"" + type + "\"");
        };
        return new SchedulerConfig(
                (int) number(json, "num_train_timesteps", 1000),
                number(json, "shift", 1.0),
                bool(json, "use_dynamic_shifting", false),
                number(json, "base_shift", 0.5),
                number(json, "max_shift", 1.15),
                (int) number(json, "base_image_seq_len", 256),
                (int) number(json, "max_image_seq_len", 4096),
                timeShift,
                json.get("shift_terminal") == null ? Double.NaN : number(json, "shift_terminal", Double.NaN));
    }

    private static double number(Map<String, ?> json, String key, double def) {
        Object v = json.get(key);
        if (v == null) return def;
        if (v instanceof Number n) return n.doubleValue();
        throw new SchedulerConfigException(key, "must be a number, got " + v);
    }

    private static boolean bool(Map<String, ?> json, String key, boolean def) {
        Object v = json.get(key);
        if (v == null) return def;
        if (v instanceof Boolean b) return b;
        throw new SchedulerConfigException(key, "must be true or false, got " + v);
    }

    private static String string(Map<String, ?> json, String key, String def) {
        Object v = json.get(key);
        if (v == null) return def;
        if (v instanceof String s) return s;
        throw new SchedulerConfigException(key, "must be a string, got " + v);
    }

}
