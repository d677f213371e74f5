package dev.zimage4j.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The JIT option arrays that {@code cuModuleLoadDataEx} and {@code cuLinkCreate} take: info and error logs
 * captured into buffers of {@link #LOG_BYTES}, verbose info log, and the wall time the driver spent (written
 * back by the driver as a float in the value slot).
 *
 * @param count number of options
 * @param ids   {@code CUjit_option[count]}
 * @param vals  {@code void*[count]} option values
 * @param info  info log buffer
 * @param err   error log buffer
 */
record JitOptions(int count, MemorySegment ids, MemorySegment vals, MemorySegment info, MemorySegment err) {
    /** Log buffer size in bytes. */
    static final int LOG_BYTES = 16 * 1024;
    private static final int JIT_WALL_TIME = 2, JIT_INFO_LOG = 3, JIT_INFO_LOG_SIZE = 4, JIT_ERROR_LOG = 5,
            JIT_ERROR_LOG_SIZE = 6, JIT_LOG_VERBOSE = 12;
    private static final int[] IDS = {JIT_INFO_LOG, JIT_INFO_LOG_SIZE, JIT_ERROR_LOG, JIT_ERROR_LOG_SIZE, JIT_LOG_VERBOSE, JIT_WALL_TIME};

    /** Allocates the option arrays and log buffers in {@code a}. */
    static JitOptions allocate(Arena a) {
        MemorySegment info = a.allocate(LOG_BYTES), err = a.allocate(LOG_BYTES);
        MemorySegment ids = a.allocate(JAVA_INT, IDS.length), vals = a.allocate(ADDRESS, IDS.length);
        for (int i = 0; i < IDS.length; i++) ids.setAtIndex(JAVA_INT, i, IDS[i]);
        vals.setAtIndex(ADDRESS, 0, info);
        vals.setAtIndex(JAVA_LONG, 1, LOG_BYTES);
        vals.setAtIndex(ADDRESS, 2, err);
        vals.setAtIndex(JAVA_LONG, 3, LOG_BYTES);
        vals.setAtIndex(JAVA_LONG, 4, 1);
        vals.setAtIndex(JAVA_LONG, 5, 0);
        return new JitOptions(IDS.length, ids, vals, info, err);
    }

    /** The info log ("used N registers, …"), stripped. */
    String infoLog() {
        return info.getString(0).strip();
    }

    /** The error log (ptxas messages), stripped. */
    String errorLog() {
        return err.getString(0).strip();
    }

    /** The JIT wall time the driver wrote back, in milliseconds. */
    float wallMs() {
        return Float.intBitsToFloat((int) vals.getAtIndex(JAVA_LONG, 5));
    }
}
