package dev.zimage4j.kernels.ptx;

import dev.zimage4j.safetensors.FloatConversion;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Runs a generated kernel on the CPU, one interpreted thread at a time, to check its index mapping where no GPU is at
 * hand. It knows only the instructions the kernels it is used on emit (anything else fails loudly), checks every global
 * access against the buffers it was given (out of range or misaligned fails), counts the writes of each global byte,
 * and interleaves a CTA's threads in a seeded random order with random run lengths between {@code bar.sync}s, so that a
 * missing barrier shows up as a wrong result; shared memory starts with random bytes. CTAs run one after another (they
 * must not depend on each other).
 */
public final class PtxInterpreter {

    /** A global buffer: {@code base} is the address the kernel sees; {@code writes[i]} counts the stores to byte i. */
    public static final class Buffer {
        final long base;
        public final byte[] data;
        public final int[] writes;

        Buffer(long base, int bytes) {
            this.base = base;
            this.data = new byte[bytes];
            this.writes = new int[bytes];
        }

        /** The address the kernel sees for this buffer. */
        public long address() {
            return base;
        }

        public float getFloat(int i) {
            return Float.intBitsToFloat(getInt(4 * i));
        }

        public void setFloat(int i, float v) {
            int b = Float.floatToRawIntBits(v);
            for (int j = 0; j < 4; j++) data[4 * i + j] = (byte) (b >>> (8 * j));
        }

        public short getShort(int i) {
            return (short) ((data[2 * i] & 0xff) | (data[2 * i + 1] & 0xff) << 8);
        }

        int getInt(int off) {
            return (data[off] & 0xff) | (data[off + 1] & 0xff) << 8 | (data[off + 2] & 0xff) << 16 | (data[off + 3] & 0xff) << 24;
        }
    }

    private record Insn(int guard, boolean negate, String op, Object[] args, String text) {
    }

    private record Addr(Object base, long offset) {
    }

    private record Special(String name) {
    }

    private final List<Insn> code = new ArrayList<>();
    private final Map<String, Integer> labels = new HashMap<>();
    private final Map<String, Integer> regSlots = new HashMap<>();
    private final List<String> params = new ArrayList<>();
    private final Map<String, Long> sharedSymbols = new HashMap<>();
    private int sharedBytes;
    private final List<Buffer> buffers = new ArrayList<>();
    private long nextBase = 0x10000;

    /** Parses the module text of one {@code .entry} kernel. */
    public PtxInterpreter(String ptx) {
        boolean inParams = false, inBody = false;
        for (String raw : ptx.split("\n")) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("//")) continue;
            if (line.startsWith(".visible .entry")) {
                inParams = true;
                continue;
            }
            if (inParams) {
                if (line.startsWith(".param")) {
                    params.add(line.substring(line.lastIndexOf(' ') + 1).replace(",", ""));
                    continue;
                }
                if (line.equals(")")) {
                    inParams = false;
                    continue;
                }
            }
            if (line.equals("{")) {
                inBody = true;
                continue;
            }
            if (!inBody || line.equals("}") || line.startsWith(".reg")) continue;
            if (line.startsWith(".shared")) { // .shared .align A .b8 name[bytes];
                String decl = line.substring(line.lastIndexOf(' ') + 1);
                String name = decl.substring(0, decl.indexOf('['));
                int bytes = Integer.parseInt(decl.substring(decl.indexOf('[') + 1, decl.indexOf(']')));
                sharedBytes = (sharedBytes + 15) & ~15;
                sharedSymbols.put(name, (long) sharedBytes);
                sharedBytes += bytes;
                continue;
            }
            if (line.endsWith(":")) {
                labels.put(line.substring(0, line.length() - 1), code.size());
                continue;
            }
            code.add(parse(line));
        }
    }

    private Insn parse(String line) {
        String s = line.substring(0, line.length() - 1); // drop ';'
        int guard = -1;
        boolean negate = false;
        if (s.startsWith("@")) {
            int sp = s.indexOf(' ');
            String g = s.substring(1, sp);
            negate = g.startsWith("!");
            guard = slot(negate ? g.substring(1) : g);
            s = s.substring(sp + 1).strip();
        }
        int sp = s.indexOf(' ');
        String op = sp < 0 ? s : s.substring(0, sp);
        List<Object> args = new ArrayList<>();
        if (sp >= 0) for (String a : splitTopLevel(s.substring(sp + 1))) args.add(operand(a.strip()));
        return new Insn(guard, negate, op, args.toArray(), line);
    }

    private static List<String> splitTopLevel(String s) {
        List<String> out = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') depth--;
            else if (c == ',' && depth == 0) {
                out.add(s.substring(start, i));
                start = i + 1;
            }
        }
        out.add(s.substring(start));
        return out;
    }

    private Object operand(String a) {
        if (a.startsWith("{")) {
            List<String> parts = splitTopLevel(a.substring(1, a.length() - 1));
            int[] slots = new int[parts.size()];
            for (int i = 0; i < slots.length; i++) slots[i] = slot(parts.get(i).strip());
            return slots;
        }
        if (a.startsWith("[")) {
            String in = a.substring(1, a.length() - 1);
            int plus = in.indexOf('+');
            String base = plus < 0 ? in : in.substring(0, plus);
            long off = plus < 0 ? 0 : Long.parseLong(in.substring(plus + 1));
            return new Addr(base.startsWith("%") ? (Object) slot(base) : base, off);
        }
        if (a.startsWith("%")) return a.contains(".") ? new Special(a) : (Object) slot(a);
        if (a.startsWith("0f")) return Long.parseLong(a.substring(2), 16);
        if (a.startsWith("0x")) return Long.parseLong(a.substring(2), 16);
        if (a.matches("-?[0-9]+")) return Long.parseLong(a);
        if (a.startsWith("L_")) return a;
        if (sharedSymbols.containsKey(a)) return a;
        throw new UnsupportedOperationException("operand '" + a + "'");
    }

    private int slot(String reg) {
        return regSlots.computeIfAbsent(reg, r -> regSlots.size());
    }

    /** A fresh zeroed global buffer of {@code bytes}. */
    public Buffer alloc(int bytes) {
        Buffer b = new Buffer(nextBase, bytes);
        buffers.add(b);
        nextBase += ((bytes + 0xffffL) & ~0xffffL) + 0x10000; // a gap between buffers: an overrun is not another buffer
        return b;
    }

    private final class Thread {
        final long[] r = new long[regSlots.size()];
        int pc;
        boolean done, atBarrier;
        final int tid;

        Thread(int tid) {
            this.tid = tid;
        }
    }

    /**
     * Runs the kernel on a 1-D grid. {@code args} in parameter order: a {@link Buffer} for a pointer, an Integer for a
     * 32-bit value. Threads of a CTA are interleaved by {@code seed}.
     */
    public void run(int gridX, int blockX, long seed, Object... args) {
        if (args.length != params.size()) throw new IllegalArgumentException("kernel takes " + params + ", got " + args.length + " arguments");
        Map<String, Long> paramValues = new HashMap<>();
        for (int i = 0; i < args.length; i++)
            paramValues.put(params.get(i), args[i] instanceof Buffer b ? b.base : (long) (Integer) args[i] & 0xffffffffL);
        Random rnd = new Random(seed);
        for (int cta = 0; cta < gridX; cta++) {
            byte[] shared = new byte[Math.max(sharedBytes, 1)];
            rnd.nextBytes(shared); // like the device: whatever an earlier CTA left
            Thread[] ts = new Thread[blockX];
            for (int i = 0; i < blockX; i++) ts[i] = new Thread(i);
            int running = blockX, done = 0; // running: neither exited nor waiting at the barrier
            while (done < blockX) {
                if (running == 0) {
                    if (done > 0) throw new AssertionError("CTA " + cta + ": bar.sync with " + done + " threads exited");
                    for (Thread t : ts) t.atBarrier = false;
                    running = blockX;
                }
                int i = rnd.nextInt(blockX);
                while (ts[i].done || ts[i].atBarrier) i = (i + 1) % blockX;
                Thread t = ts[i];
                int steps = 1 + rnd.nextInt(64);
                for (int s = 0; s < steps && !t.done && !t.atBarrier; s++) step(t, cta, gridX, blockX, shared, paramValues);
                if (t.done) {
                    done++;
                    running--;
                } else if (t.atBarrier) running--;
            }
        }
    }

    private int curCta, curGrid, curBlock;

    private long v(Thread t, Object[] a, int i) {
        Object o = a[i];
        if (o instanceof Integer slot) return t.r[slot];
        return val(t, o, curCta, curGrid, curBlock);
    }

    private long val(Thread t, Object o, int cta, int gridX, int blockX) {
        if (o instanceof Integer slot) return t.r[slot];
        if (o instanceof Long imm) return imm;
        if (o instanceof Special sp) return switch (sp.name()) {
            case "%tid.x" -> t.tid;
            case "%ctaid.x" -> cta;
            case "%nctaid.x" -> gridX;
            case "%ntid.x" -> blockX;
            default -> throw new UnsupportedOperationException(sp.name());
        };
        if (o instanceof String sym && sharedSymbols.containsKey(sym)) return sharedSymbols.get(sym);
        throw new UnsupportedOperationException("value of " + o);
    }

    private Buffer buffer(long addr, int bytes, String what) {
        for (Buffer b : buffers)
            if (addr >= b.base && addr + bytes <= b.base + b.data.length) {
                if (addr % bytes != 0) throw new AssertionError(what + ": misaligned address 0x" + Long.toHexString(addr));
                return b;
            }
        throw new AssertionError(what + ": address 0x" + Long.toHexString(addr) + " (+" + bytes + ") outside every buffer");
    }

    private static int sharedCheck(byte[] shared, long addr, int bytes, String what) {
        if (addr < 0 || addr + bytes > shared.length || addr % bytes != 0)
            throw new AssertionError(what + ": shared address " + addr + " (+" + bytes + ") out of range or misaligned");
        return (int) addr;
    }

    private static int u32(long v) {
        return (int) v;
    }

    private static long mask(long v) {
        return v & 0xffffffffL;
    }

    private void step(Thread t, int cta, int gridX, int blockX, byte[] shared, Map<String, Long> paramValues) {
        Insn in = code.get(t.pc++);
        if (in.guard >= 0 && (t.r[in.guard] != 0) == in.negate) return;
        Object[] a = in.args;
        String op = in.op;
        curCta = cta;
        curGrid = gridX;
        curBlock = blockX;
        switch (op) {
            case "ld.param.u64", "ld.param.u32" -> {
                String name = (String) ((Addr) a[1]).base();
                t.r[(Integer) a[0]] = paramValues.get(name);
            }
            case "cvta.to.global.u64", "mov.u32", "mov.f32", "mov.b32" -> t.r[(Integer) a[0]] = v(t, a, 1);
            case "add.s32", "add.u32" -> t.r[(Integer) a[0]] = mask(v(t, a, 1) + v(t, a, 2));
            case "sub.s32" -> t.r[(Integer) a[0]] = mask(v(t, a, 1) - v(t, a, 2));
            case "mul.lo.s32" -> t.r[(Integer) a[0]] = mask(v(t, a, 1) * v(t, a, 2));
            case "mad.lo.s32" -> t.r[(Integer) a[0]] = mask(v(t, a, 1) * v(t, a, 2) + v(t, a, 3));
            case "div.u32", "rem.u32" -> {
                int x = u32(v(t, a, 1)), y = u32(v(t, a, 2));
                if (y == 0) throw new AssertionError("division by zero: " + in.text);
                t.r[(Integer) a[0]] = mask(op.startsWith("div") ? Integer.divideUnsigned(x, y) : Integer.remainderUnsigned(x, y));
            }
            case "shr.u32" -> t.r[(Integer) a[0]] = mask(v(t, a, 1) >>> v(t, a, 2));
            case "shl.b32" -> t.r[(Integer) a[0]] = mask(v(t, a, 1) << v(t, a, 2));
            case "and.b32" -> t.r[(Integer) a[0]] = v(t, a, 1) & v(t, a, 2);
            case "xor.b32" -> t.r[(Integer) a[0]] = mask(v(t, a, 1) ^ v(t, a, 2));
            case "mul.wide.u32" -> t.r[(Integer) a[0]] = mask(v(t, a, 1)) * mask(v(t, a, 2));
            case "add.s64" -> t.r[(Integer) a[0]] = v(t, a, 1) + v(t, a, 2);
            case "selp.b32" -> t.r[(Integer) a[0]] = t.r[(Integer) a[3]] != 0 ? mask(v(t, a, 1)) : mask(v(t, a, 2));
            case "cvt.rn.bf16x2.f32" -> {
                int hi = FloatConversion.floatToBf16(Float.intBitsToFloat(u32(v(t, a, 1)))) & 0xffff;
                int lo = FloatConversion.floatToBf16(Float.intBitsToFloat(u32(v(t, a, 2)))) & 0xffff;
                t.r[(Integer) a[0]] = mask((long) hi << 16 | lo);
            }
            case "ld.global.nc.f32", "ld.global.f32" -> {
                Addr ad = (Addr) a[1];
                long addr = t.r[(Integer) ad.base()] + ad.offset();
                Buffer b = buffer(addr, 4, in.text);
                t.r[(Integer) a[0]] = mask(b.getInt((int) (addr - b.base)));
            }
            case "st.global.v4.b32" -> {
                Addr ad = (Addr) a[0];
                long addr = t.r[(Integer) ad.base()] + ad.offset();
                Buffer b = buffer(addr, 16, in.text);
                int[] src = (int[]) a[1];
                int off = (int) (addr - b.base);
                for (int w = 0; w < 4; w++)
                    for (int j = 0; j < 4; j++) {
                        b.data[off + 4 * w + j] = (byte) (t.r[src[w]] >>> (8 * j));
                        b.writes[off + 4 * w + j]++;
                    }
            }
            case "st.shared.v4.b32" -> {
                Addr ad = (Addr) a[0];
                int off = sharedCheck(shared, t.r[(Integer) ad.base()] + ad.offset(), 16, in.text);
                int[] src = (int[]) a[1];
                for (int w = 0; w < 4; w++)
                    for (int j = 0; j < 4; j++) shared[off + 4 * w + j] = (byte) (t.r[src[w]] >>> (8 * j));
            }
            case "ld.shared.v4.b32" -> {
                Addr ad = (Addr) a[1];
                int off = sharedCheck(shared, t.r[(Integer) ad.base()] + ad.offset(), 16, in.text);
                int[] dstRegs = (int[]) a[0];
                for (int w = 0; w < 4; w++) {
                    long x = 0;
                    for (int j = 0; j < 4; j++) x |= (long) (shared[off + 4 * w + j] & 0xff) << (8 * j);
                    t.r[dstRegs[w]] = x;
                }
            }
            case "bar.sync" -> t.atBarrier = true;
            case "bra", "bra.uni" -> {
                Integer target = labels.get((String) a[0]);
                if (target == null) throw new AssertionError("no label " + a[0]);
                t.pc = target;
            }
            case "ret" -> t.done = true;
            default -> {
                if (op.startsWith("setp.")) setp(t, in);
                else throw new UnsupportedOperationException("instruction not interpreted: " + in.text);
            }
        }
        if (t.pc >= code.size()) t.done = true;
    }

    private void setp(Thread t, Insn in) {
        String[] f = in.op.split("\\.");          // setp, cmp, [and,] type
        boolean and = f.length == 4;
        String cmp = f[1], type = f[and ? 3 : 2];
        long x = v(t, in.args, 1), y = v(t, in.args, 2);
        int c = switch (type) {
            case "u32" -> Integer.compareUnsigned(u32(x), u32(y));
            case "s32" -> Integer.compare(u32(x), u32(y));
            case "u64" -> Long.compareUnsigned(x, y);
            default -> throw new UnsupportedOperationException(in.text);
        };
        boolean r = switch (cmp) {
            case "eq" -> c == 0;
            case "ne" -> c != 0;
            case "lt" -> c < 0;
            case "le" -> c <= 0;
            case "gt" -> c > 0;
            case "ge" -> c >= 0;
            default -> throw new UnsupportedOperationException(in.text);
        };
        if (and) r &= t.r[(Integer) in.args[3]] != 0;
        t.r[(Integer) in.args[0]] = r ? 1 : 0;
    }
}
