package dev.zimage4j.kernels.ptx;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Builds the PTX text of one module holding one {@code .entry} kernel.
 *
 * <p>Generators call it in program order: declare parameters (which also emits their loads), allocate
 * virtual registers with {@link #reg}, and append instructions with {@link #op}. The builder collects
 * the register declarations and writes them at the top of the body in {@link #build()}. It checks what
 * it can (duplicate names, unknown labels) and otherwise leaves validation to {@code ptxas} / the
 * driver JIT, whose log the CUDA loader reports.
 *
 * <p>Targets PTX ISA 8.0, {@code sm_90}, 64-bit addresses (see docs/cuda-notes §6).
 */
public final class Ptx {

    /** The PTX ISA version every module declares. */
    public static final String VERSION = "8.0";
    /** The default target; {@code sm_90a} (Hopper-only: wgmma, setmaxnreg) is opted into per kernel. */
    public static final String TARGET = "sm_90";

    private final String entry;
    private final String target;
    private final List<String> params = new ArrayList<>();
    private final List<String> decls = new ArrayList<>();
    private final List<String> moduleDecls = new ArrayList<>();
    private final List<String> body = new ArrayList<>();
    private final Map<PtxType, Integer> regCount = new EnumMap<>(PtxType.class);
    private final List<String> directives = new ArrayList<>();
    private final java.util.Set<String> labelsDefined = new java.util.HashSet<>();
    private final java.util.Set<String> labelsUsed = new java.util.HashSet<>();
    private int labelCounter;

    /** A builder for kernel {@code entry} (must be a valid PTX identifier) targeting {@value #TARGET}. */
    public Ptx(String entry) {
        this(entry, TARGET);
    }

    /** A builder for kernel {@code entry} targeting {@code target} ({@code sm_90} or {@code sm_90a}). */
    public Ptx(String entry, String target) {
        if (!entry.matches("[A-Za-z_][A-Za-z0-9_]*"))
            throw new IllegalArgumentException("not a PTX identifier: '" + entry + "'");
        if (!target.matches("sm_[0-9]+a?"))
            throw new IllegalArgumentException("not a PTX target: '" + target + "'");
        this.entry = entry;
        this.target = target;
    }

    /** The {@code .target} this module declares. */
    public String target() {
        return target;
    }

    /** The kernel's entry name, as passed to {@code cuModuleGetFunction}. */
    public String entry() {
        return entry;
    }

    // ------------------------------------------------------------------ declarations

    /** A fresh virtual register of {@code type}. */
    public Reg reg(PtxType type) {
        int n = regCount.merge(type, 1, Integer::sum) - 1;
        return new Reg(type.prefix() + n, type);
    }

    /** {@code n} fresh registers of {@code type}. */
    public Reg[] regs(PtxType type, int n) {
        Reg[] r = new Reg[n];
        for (int i = 0; i < n; i++) r[i] = reg(type);
        return r;
    }

    /** Declares a pointer parameter and returns it as a global-space address in a 64-bit register. */
    public Reg paramPtr(String name) {
        addParam(".param .u64 " + name);
        Reg r = reg(PtxType.B64);
        op("ld.param.u64", r, "[" + name + "]");
        op("cvta.to.global.u64", r, r);
        return r;
    }

    /** A predicate that is true when the pointer parameter {@code name} (declared before) is not null, tested before any address conversion. */
    public Reg paramNonNull(String name) {
        if (params.stream().noneMatch(p -> p.equals(".param .u64 " + name)))
            throw new IllegalArgumentException("no pointer parameter " + name + " in " + entry);
        Reg raw = reg(PtxType.B64);
        op("ld.param.u64", raw, "[" + name + "]");
        return setp("ne.u64", raw, 0);
    }

    /** Declares a 32-bit integer parameter and returns its value. */
    public Reg paramU32(String name) {
        addParam(".param .u32 " + name);
        Reg r = reg(PtxType.B32);
        op("ld.param.u32", r, "[" + name + "]");
        return r;
    }

    /**
     * Declares a {@code CUtensorMap} parameter passed by value ({@code .param .align 64 .b8 name[128]}) and
     * returns its generic address, the operand form {@code cp.async.bulk.tensor} takes (docs/cuda-notes §7).
     */
    public Reg paramTensorMap(String name) {
        addParam(".param .align 64 .b8 " + name + "[128]");
        Reg r = reg(PtxType.B64);
        op("mov.u64", r, name);
        op("cvta.param.u64", r, r);
        return r;
    }

    /** Declares a float parameter and returns its value. */
    public Reg paramF32(String name) {
        addParam(".param .f32 " + name);
        Reg r = reg(PtxType.F32);
        op("ld.param.f32", r, "[" + name + "]");
        return r;
    }

    private void addParam(String decl) {
        String name = decl.substring(decl.lastIndexOf(' ') + 1);
        for (String p : params)
            if (p.endsWith(" " + name)) throw new IllegalArgumentException("duplicate parameter " + name + " in " + entry);
        params.add(decl);
    }

    /** Number of parameters declared so far. */
    public int paramCount() {
        return params.size();
    }

    /** Declares a static shared array of {@code bytes} (aligned to {@code align}) and returns its 32-bit shared address. */
    public Reg shared(String name, int bytes, int align) {
        if (bytes <= 0) throw new IllegalArgumentException("shared array " + name + " needs a positive size");
        decls.add(".shared .align " + align + " .b8 " + name + "[" + bytes + "];");
        Reg r = reg(PtxType.B32);
        op("mov.u32", r, name);
        return r;
    }

    /** Declares the dynamic shared-memory window and returns its 32-bit shared address. */
    public Reg dynamicShared(String name) {
        return dynamicShared(name, 16);
    }

    /** Declares the dynamic shared-memory window with alignment {@code align} and returns its 32-bit shared address. */
    public Reg dynamicShared(String name, int align) {
        moduleDecls.add(".extern .shared .align " + align + " .b8 " + name + "[];"); // must be at module scope
        Reg r = reg(PtxType.B32);
        op("mov.u32", r, name);
        return r;
    }

    /** Adds a performance directive after the entry's parameter list, e.g. {@code .maxntid 256, 1, 1}. */
    public void directive(String d) {
        directives.add(d);
    }

    /** A 32-bit register holding a special register such as {@code %tid.x} or {@code %laneid}. */
    public Reg special(String sreg) {
        Reg r = reg(PtxType.B32);
        op("mov.u32", r, sreg);
        return r;
    }

    // ------------------------------------------------------------------ instructions

    /** Appends {@code opcode a, b, c;}. Operands are registers, immediates (see {@link #f32}) or address strings. */
    public Ptx op(String opcode, Object... operands) {
        StringBuilder sb = new StringBuilder("\t").append(opcode);
        for (int i = 0; i < operands.length; i++) sb.append(i == 0 ? " " : ", ").append(operands[i]);
        body.add(sb.append(';').toString());
        return this;
    }

    /** Appends {@code @pred opcode …;} ({@code negate} writes {@code @!pred}). */
    public Ptx opIf(Reg pred, boolean negate, String opcode, Object... operands) {
        requirePred(pred);
        op(opcode, operands);
        int last = body.size() - 1;
        body.set(last, "\t@" + (negate ? "!" : "") + pred + " " + body.get(last).substring(1));
        return this;
    }

    /** A fresh unique label name with a readable stem. */
    public String newLabel(String stem) {
        return "L_" + stem + "_" + (labelCounter++);
    }

    /** Places {@code label} here. */
    public void label(String label) {
        if (!labelsDefined.add(label)) throw new IllegalStateException("label " + label + " placed twice in " + entry);
        body.add(label + ":");
    }

    /** Unconditional uniform branch. */
    public void bra(String label) {
        labelsUsed.add(label);
        op("bra.uni", label);
    }

    /** Branches to {@code label} when {@code pred} is true (or false with {@code negate}). */
    public void braIf(Reg pred, boolean negate, String label) {
        labelsUsed.add(label);
        opIf(pred, negate, "bra", label);
    }

    /** A predicate set by {@code setp.cmp.type a, b}, e.g. {@code setp("lt.u32", i, n)}. */
    public Reg setp(String cmpType, Object a, Object b) {
        Reg p = reg(PtxType.PRED);
        op("setp." + cmpType, p, a, b);
        return p;
    }

    /** {@code d = a·b + c} in 32-bit integers (low half): a helper for index arithmetic. */
    public Reg mad(Object a, Object b, Object c) {
        Reg d = reg(PtxType.B32);
        op("mad.lo.s32", d, a, b, c);
        return d;
    }

    /** {@code base + (u32) index · elemBytes} as a 64-bit address. */
    public Reg addr(Reg base, Object index, int elemBytes) {
        Reg off = reg(PtxType.B64);
        op("mul.wide.u32", off, index, elemBytes);
        Reg r = reg(PtxType.B64);
        op("add.s64", r, base, off);
        return r;
    }

    /** A new 32-bit register holding {@code op(a, b)} for a two-operand integer opcode such as {@code add.s32}. */
    public Reg iop(String opcode, Object a, Object b) {
        Reg d = reg(PtxType.B32);
        op(opcode, d, a, b);
        return d;
    }

    /** A new float register holding {@code op(a, b)} for a two-operand float opcode such as {@code mul.f32}. */
    public Reg fop(String opcode, Object a, Object b) {
        Reg d = reg(PtxType.F32);
        op(opcode, d, a, b);
        return d;
    }

    /** A new float register holding {@code v}. */
    public Reg constF32(float v) {
        Reg d = reg(PtxType.F32);
        op("mov.f32", d, f32(v));
        return d;
    }

    /** A new 32-bit register holding {@code v}. */
    public Reg constU32(int v) {
        Reg d = reg(PtxType.B32);
        op("mov.u32", d, v);
        return d;
    }

    /**
     * A counted loop {@code for (i = start; i < end; i += step) body(i)} over unsigned 32-bit values; the
     * bounds are registers or immediates, the body runs zero times when {@code start >= end}.
     */
    public void forLoop(Object start, Object end, Object step, Consumer<Reg> bodyFn) {
        Reg i = reg(PtxType.B32);
        op("mov.u32", i, start);
        String top = newLabel("loop"), done = newLabel("done");
        label(top);
        Reg p = setp("ge.u32", i, end);
        braIf(p, false, done);
        bodyFn.accept(i);
        op("add.u32", i, i, step);
        bra(top);
        label(done);
    }

    /** {@code if (pred) body} (or {@code if (!pred)} with {@code negate}). */
    public void ifThen(Reg pred, boolean negate, Runnable bodyFn) {
        String skip = newLabel("skip");
        braIf(pred, !negate, skip);
        bodyFn.run();
        label(skip);
    }

    /** A grid-stride loop over {@code [0, n)}: {@code i = ctaid.x·ntid.x + tid.x; i < n; i += nctaid.x·ntid.x}. */
    public void gridStride(Reg n, Consumer<Reg> bodyFn) {
        Reg tid = special("%tid.x"), ntid = special("%ntid.x"), cta = special("%ctaid.x"), ncta = special("%nctaid.x");
        Reg start = mad(cta, ntid, tid);
        Reg stride = iop("mul.lo.s32", ncta, ntid);
        forLoop(start, n, stride, bodyFn);
    }

    /** Full-warp butterfly reduction of a float: after it every lane holds the warp-wide {@code op} ("add" or "max"). */
    public void warpReduce(Reg v, String op) {
        Reg t = reg(PtxType.F32);
        for (int off = 16; off >= 1; off >>= 1) {
            this.op("shfl.sync.bfly.b32", t, v, off, "0x1f", "0xffffffff");
            this.op(op + ".f32", v, v, t);
        }
    }

    /** Spins until the shared-memory mbarrier at {@code bar} has completed the phase of parity {@code parity}. */
    public void waitMbarrier(Reg bar, Reg parity) {
        String again = newLabel("mbwait");
        label(again);
        Reg done = reg(PtxType.PRED);
        op("mbarrier.try_wait.parity.shared::cta.b64", done, at(bar), parity);
        braIf(done, true, again);
    }

    private static void requirePred(Reg p) {
        if (p.type() != PtxType.PRED) throw new IllegalArgumentException(p + " is not a predicate");
    }

    // ------------------------------------------------------------------ immediates and operands

    /** A float immediate in PTX's exact hex form, e.g. {@code 0f3F800000} for 1.0. */
    public static String f32(float v) {
        return String.format("0f%08X", Float.floatToRawIntBits(v));
    }

    /** A vector operand {@code {a, b, …}}. */
    public static String vec(Object... regs) {
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < regs.length; i++) sb.append(i == 0 ? "" : ", ").append(regs[i]);
        return sb.append('}').toString();
    }

    /** An address operand {@code [reg+offset]}. */
    public static String at(Reg base, long offset) {
        return offset == 0 ? "[" + base + "]" : "[" + base + "+" + offset + "]";
    }

    /** An address operand {@code [reg]}. */
    public static String at(Reg base) {
        return at(base, 0);
    }

    // ------------------------------------------------------------------ output

    /** The module text: header, the entry with its parameters, register declarations and body. */
    public String build() {
        for (String l : labelsUsed)
            if (!labelsDefined.contains(l)) throw new IllegalStateException("branch to undefined label " + l + " in " + entry);
        StringBuilder sb = new StringBuilder();
        sb.append("//\n// Generated by zimage4j (dev.zimage4j.kernels.ptx): ").append(entry).append("\n//\n");
        sb.append(".version ").append(VERSION).append('\n');
        sb.append(".target ").append(target).append('\n');
        sb.append(".address_size 64\n\n");
        for (String d : moduleDecls) sb.append(d).append("\n\n");
        sb.append(".visible .entry ").append(entry).append("(\n");
        for (int i = 0; i < params.size(); i++) sb.append('\t').append(params.get(i)).append(i + 1 < params.size() ? ",\n" : "\n");
        sb.append(")\n");
        for (String d : directives) sb.append(d).append('\n');
        sb.append("{\n");
        for (var e : regCount.entrySet())
            sb.append("\t.reg ").append(e.getKey().ptx()).append(' ').append(e.getKey().prefix()).append('<').append(e.getValue()).append(">;\n");
        for (String d : decls) sb.append('\t').append(d).append('\n');
        for (String l : body) sb.append(l).append('\n');
        sb.append("\tret;\n}\n");
        return sb.toString();
    }
}
