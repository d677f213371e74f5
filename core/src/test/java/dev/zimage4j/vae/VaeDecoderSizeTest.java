package dev.zimage4j.vae;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Workspace sizing of the real (FLUX / Z-Image) decoder, from the config alone. */
class VaeDecoderSizeTest {
    private final VaeDecoder decoder = new VaeDecoder(null, VaeConfig.Z_IMAGE, null);

    @Test
    void largestActivationIs256ChannelsAtFullResolution() {
        // up_blocks.2's upsampler output [256, H, W] is the largest tensor (spec §6: 1 GiB at 1024²)
        assertEquals(256L * 1024 * 1024, decoder.bufferElements(128, 128));
        assertEquals(256L * 512 * 512, decoder.bufferElements(64, 64));
    }

    @Test
    void sizesBeyondOneTensorAreRefusedUpFront() {
        assertTrue(decoder.fits(128, 128));
        assertTrue(decoder.fits(256, 256));   // 2048²: 4 GiB buffers
        assertFalse(decoder.fits(512, 512));  // 4096²: 2³² floats per buffer
    }
}
