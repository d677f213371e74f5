package dev.zimage4j.kernels.ptx;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PtxTest {

    @Test
    void headerParamsAndRegisterDeclarations() {
        Ptx k = new Ptx("demo");
        Reg p = k.paramPtr("x");
        Reg n = k.paramU32("n");
        Reg a = k.reg(PtxType.F32), b = k.reg(PtxType.F32);
        k.op("ld.global.f32", a, Ptx.at(p));
        k.op("add.f32", b, a, Ptx.f32(1f));
        String s = k.build();
        assertTrue(s.contains(".version 8.0\n.target sm_90\n.address_size 64"), s);
        assertTrue(s.contains(".visible .entry demo(\n\t.param .u64 x,\n\t.param .u32 n\n)"), s);
        assertTrue(s.contains(".reg .f32 %f<2>;"), s);
        assertTrue(s.contains(".reg .b64 %rd<1>;"), s);
        assertTrue(s.contains("\tld.param.u64 %rd0, [x];\n\tcvta.to.global.u64 %rd0, %rd0;"), s);
        assertTrue(s.contains("\tadd.f32 %f1, %f0, 0f3F800000;"), s);
        assertEquals("%r0", n.name());
        assertTrue(s.trim().endsWith("ret;\n}"), s);
    }

    @Test
    void floatImmediatesAreExactHex() {
        assertEquals("0f3F800000", Ptx.f32(1f));
        assertEquals("0fFF800000", Ptx.f32(Float.NEGATIVE_INFINITY));
        assertEquals("0f00000000", Ptx.f32(0f));
        assertEquals("0fBFB8AA3B", Ptx.f32(-1.4426950408889634f));
    }

    @Test
    void operandsAndPredicates() {
        assertEquals("{%r0, %r1}", Ptx.vec(new Reg("%r0", PtxType.B32), new Reg("%r1", PtxType.B32)));
        assertEquals("[%rd3+16]", Ptx.at(new Reg("%rd3", PtxType.B64), 16));
        Ptx k = new Ptx("pred");
        Reg i = k.reg(PtxType.B32);
        Reg p = k.setp("lt.u32", i, 10);
        k.opIf(p, true, "mov.u32", i, 0);
        String s = k.build();
        assertTrue(s.contains("\tsetp.lt.u32 %p0, %r0, 10;\n\t@!%p0 mov.u32 %r0, 0;"), s);
        assertThrows(IllegalArgumentException.class, () -> k.opIf(i, false, "mov.u32", i, 1));
    }

    @Test
    void loopsAndLabels() {
        Ptx k = new Ptx("loop");
        Reg n = k.paramU32("n");
        Reg sum = k.constU32(0);
        k.forLoop(0, n, 1, i -> k.op("add.u32", sum, sum, i));
        String s = k.build();
        assertTrue(s.contains("L_loop_0:\n\tsetp.ge.u32 %p0, %r2, %r0;\n\t@%p0 bra L_done_1;\n\tadd.u32 %r1, %r1, %r2;\n\tadd.u32 %r2, %r2, 1;\n\tbra.uni L_loop_0;\nL_done_1:"), s);
        Ptx bad = new Ptx("bad");
        bad.bra("L_nowhere");
        assertThrows(IllegalStateException.class, bad::build);
        Ptx twice = new Ptx("twice");
        twice.label("L_a");
        assertThrows(IllegalStateException.class, () -> twice.label("L_a"));
    }

    @Test
    void sharedMemoryAndNullChecks() {
        Ptx k = new Ptx("smem");
        k.paramPtr("maybe");
        Reg st = k.shared("tile", 1024, 16);
        Reg dyn = k.dynamicShared("dyn");
        Reg nn = k.paramNonNull("maybe");
        String s = k.build();
        assertTrue(s.contains("\t.shared .align 16 .b8 tile[1024];"), s);
        assertTrue(s.indexOf(".extern .shared .align 16 .b8 dyn[];") < s.indexOf(".entry"), "dynamic shared memory is module-scope");
        assertEquals(PtxType.PRED, nn.type());
        assertTrue(s.contains("mov.u32 " + st + ", tile;") && s.contains("mov.u32 " + dyn + ", dyn;"), s);
        assertThrows(IllegalArgumentException.class, () -> k.paramNonNull("absent"));
        assertThrows(IllegalArgumentException.class, () -> k.paramU32("maybe"));
        assertThrows(IllegalArgumentException.class, () -> new Ptx("9bad"));
    }

    @Test
    void warpReduceUsesAllFiveButterflySteps() {
        Ptx k = new Ptx("red");
        Reg v = k.reg(PtxType.F32);
        k.warpReduce(v, "max");
        String s = k.build();
        for (int off : new int[]{16, 8, 4, 2, 1}) assertTrue(s.contains("shfl.sync.bfly.b32 %f1, %f0, " + off + ", 0x1f, 0xffffffff;"), s);
        assertEquals(5, s.split("max.f32").length - 1);
    }
}
