package dev.zimage4j.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Compiles PTX to a cubin with the driver's linker ({@code cuLinkCreate_v2} / {@code cuLinkAddData_v2} /
 * {@code cuLinkComplete}; cuda-notes §5), so the machine code can be kept in the {@link KernelCache} and
 * loaded by a later process with {@code cuModuleLoadData} in ~0.1 ms. The target is the current context's
 * device (the PTX's {@code .target}, e.g. sm_90a, is honoured), the same code the module JIT would make.
 * Needs a current context on the calling thread.
 */
final class CubinLinker {
    private static final int INPUT_PTX = 1;
    /** What the key records about the options: logs do not change the code, the target comes from the context. */
    static final String JIT_OPTIONS = "cuLink default optimisation (O4), target from context";

    private static final MethodHandle LINK_CREATE, LINK_ADD_DATA, LINK_COMPLETE, LINK_DESTROY;

    static {
        SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        Linker l = Linker.nativeLinker();
        LINK_CREATE = l.downcallHandle(lib.find("cuLinkCreate_v2").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        LINK_ADD_DATA = l.downcallHandle(lib.find("cuLinkAddData_v2").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        LINK_COMPLETE = l.downcallHandle(lib.find("cuLinkComplete").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        LINK_DESTROY = l.downcallHandle(lib.find("cuLinkDestroy").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** A linked cubin with the linker's info log ("used N registers, …") and its wall time. */
    record Linked(byte[] cubin, String infoLog, double wallMs) {
    }

    private CubinLinker() {
    }

    /**
     * Links one PTX module into a cubin.
     *
     * @throws CudaException with the linker's error log when the PTX does not assemble
     */
    static Linked link(String ptx, String name) {
        long t0 = System.nanoTime();
        try (Arena a = Arena.ofConfined()) {
            JitOptions jit = JitOptions.allocate(a);
            MemorySegment pState = a.allocate(ADDRESS);
            CudaDriver.check((int) LINK_CREATE.invokeExact(jit.count(), jit.ids(), jit.vals(), pState), "cuLinkCreate_v2");
            MemorySegment state = pState.get(ADDRESS, 0);
            try {
                MemorySegment image = a.allocateFrom(ptx, StandardCharsets.US_ASCII);
                CudaDriver.check((int) LINK_ADD_DATA.invokeExact(state, INPUT_PTX, image, image.byteSize(), a.allocateFrom(name), 0,
                        MemorySegment.NULL, MemorySegment.NULL), "cuLinkAddData_v2(" + name + ")", "linker error log: " + jit.errorLog());
                MemorySegment pCubin = a.allocate(ADDRESS), pSize = a.allocate(JAVA_LONG);
                CudaDriver.check((int) LINK_COMPLETE.invokeExact(state, pCubin, pSize), "cuLinkComplete(" + name + ")",
                        "linker error log: " + jit.errorLog());
                long size = pSize.get(JAVA_LONG, 0);
                byte[] cubin = pCubin.get(ADDRESS, 0).reinterpret(size).toArray(JAVA_BYTE); // owned by the state: copy before destroy
                return new Linked(cubin, jit.infoLog(), (System.nanoTime() - t0) / 1e6);
            } finally {
                int ignored = (int) LINK_DESTROY.invokeExact(state);
            }
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }
}
