package dev.zimage4j.vae;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.safetensors.Checkpoint;
import dev.zimage4j.safetensors.Safetensors;
import dev.zimage4j.safetensors.TensorView;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.SortedSet;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VaeKeyMappingTest {

    @Test
    void bflNamesMapOntoDiffusersNames() {
        assertEquals("decoder.up_blocks.0.resnets.2.conv1.weight", VaeKeyMapping.toDiffusers("decoder.up.3.block.2.conv1.weight", 4));
        assertEquals("decoder.up_blocks.3.resnets.0.conv_shortcut.bias", VaeKeyMapping.toDiffusers("decoder.up.0.block.0.nin_shortcut.bias", 4));
        assertEquals("decoder.up_blocks.1.upsamplers.0.conv.weight", VaeKeyMapping.toDiffusers("decoder.up.2.upsample.conv.weight", 4));
        assertEquals("encoder.down_blocks.2.downsamplers.0.conv.bias", VaeKeyMapping.toDiffusers("encoder.down.2.downsample.conv.bias", 4));
        assertEquals("encoder.down_blocks.1.resnets.1.norm2.weight", VaeKeyMapping.toDiffusers("encoder.down.1.block.1.norm2.weight", 4));
        assertEquals("decoder.mid_block.resnets.1.conv2.weight", VaeKeyMapping.toDiffusers("decoder.mid.block_2.conv2.weight", 4));
        assertEquals("encoder.mid_block.attentions.0.to_out.0.weight", VaeKeyMapping.toDiffusers("encoder.mid.attn_1.proj_out.weight", 4));
        assertEquals("decoder.mid_block.attentions.0.group_norm.bias", VaeKeyMapping.toDiffusers("decoder.mid.attn_1.norm.bias", 4));
        assertEquals("decoder.conv_norm_out.weight", VaeKeyMapping.toDiffusers("decoder.norm_out.weight", 4));
        assertEquals("decoder.conv_in.weight", VaeKeyMapping.toDiffusers("decoder.conv_in.weight", 4));
    }

    /** diffusers → BFL, written independently of the code under test (the inverse of spec §4.4's map). */
    private static String toBfl(String d, int levels) {
        String k = d;
        var up = java.util.regex.Pattern.compile("decoder\\.up_blocks\\.(\\d+)\\.(resnets|upsamplers\\.0)\\.(.*)").matcher(k);
        if (up.matches()) {
            int i = levels - 1 - Integer.parseInt(up.group(1));
            k = "decoder.up." + i + (up.group(2).equals("resnets") ? ".block." : ".upsample.") + up.group(3);
        }
        var down = java.util.regex.Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\.(resnets|downsamplers\\.0)\\.(.*)").matcher(k);
        if (down.matches())
            k = "encoder.down." + down.group(1) + (down.group(2).equals("resnets") ? ".block." : ".downsample.") + down.group(3);
        return k.replace("mid_block.resnets.0.", "mid.block_1.").replace("mid_block.resnets.1.", "mid.block_2.")
                .replace("mid_block.attentions.0.group_norm.", "mid.attn_1.norm.")
                .replace("mid_block.attentions.0.to_q.", "mid.attn_1.q.").replace("mid_block.attentions.0.to_k.", "mid.attn_1.k.")
                .replace("mid_block.attentions.0.to_v.", "mid.attn_1.v.").replace("mid_block.attentions.0.to_out.0.", "mid.attn_1.proj_out.")
                .replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out");
    }

    /** A renamed view of another checkpoint (BFL names, attention matrices as 1×1 convs). */
    private record Renamed(Checkpoint inner, Map<String, TensorView> tensors) implements Checkpoint {
        static Renamed bfl(Checkpoint inner, int levels) {
            Map<String, TensorView> m = new LinkedHashMap<>();
            for (String n : inner.names()) {
                TensorView t = inner.get(n);
                String b = toBfl(n, levels);
                if (b.matches(".*mid\\.attn_1\\.(q|k|v|proj_out)\\.weight")) t = t.reshape(t.shape()[0], t.shape()[1], 1, 1);
                m.put(b, new TensorView(b, t.dtype(), t.shape(), t.data()));
            }
            return new Renamed(inner, m);
        }

        public SortedSet<String> names() {
            return new TreeSet<>(tensors.keySet());
        }

        public Optional<TensorView> find(String name) {
            return Optional.ofNullable(tensors.get(name));
        }

        public Map<String, String> metadata() {
            return Map.of();
        }

        public String source() {
            return "BFL view of " + inner.source();
        }

        public void close() {
            inner.close();
        }
    }

    @Test
    void bflCheckpointDecodesAndEncodesIdentically() throws Exception {
        Path dir = TestFixtures.folders().getFirst().resolve("vae");
        VaeConfig config = VaeConfig.fromJson(dir.resolve("config.json"));
        Random rnd = new Random(1);
        float[] z = new float[config.latentChannels() * 4 * 6];
        for (int i = 0; i < z.length; i++) z[i] = (float) rnd.nextGaussian();
        int f = config.downFactor();
        float[] img = new float[3 * 4 * f * 6 * f];
        for (int i = 0; i < img.length; i++) img[i] = rnd.nextFloat() * 2 - 1;
        try (Backend backend = Backends.cpu();
             Vae diffusers = Vae.load(dir, backend);
             Vae bfl = Vae.load(Renamed.bfl(Safetensors.open(dir), config.levels()), config, backend)) {
            // same weights under other names: bitwise the same result
            assertArrayEquals(diffusers.decoder().decode(z, 4, 6), bfl.decoder().decode(z, 4, 6));
            assertArrayEquals(diffusers.encoder().encode(img, 4 * f, 6 * f).mean(), bfl.encoder().encode(img, 4 * f, 6 * f).mean());
        }
    }

    @Test
    void missingAndMisshapedTensorsAreAllListed() throws Exception {
        Path dir = TestFixtures.folders().getFirst().resolve("vae");
        VaeConfig config = VaeConfig.fromJson(dir.resolve("config.json"));
        int[] wider = config.blockOutChannels();
        wider[0] *= 2;
        VaeConfig wrong = new VaeConfig(config.inChannels(), config.outChannels(), config.latentChannels(), wider,
                config.layersPerBlock(), config.normGroups(), config.midAttention(), config.scalingFactor(), config.shiftFactor());
        try (Backend backend = Backends.cpu()) {
            var e = assertThrows(VaeCheckpointException.class, () -> Vae.load(Safetensors.open(dir), wrong, backend));
            assertTrue(e.problems().size() > 3, e.getMessage());
            assertTrue(e.getMessage().contains("mis-shaped decoder.conv_out.weight"), e.getMessage());
        }
    }
}
