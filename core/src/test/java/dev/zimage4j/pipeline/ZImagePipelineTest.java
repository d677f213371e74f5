package dev.zimage4j.pipeline;

import dev.zimage4j.check.TestFixtures;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.sampler.FlowMatchSchedule;
import dev.zimage4j.sampler.Guidance;
import dev.zimage4j.sampler.TorchGenerator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The generation contract of {@link ImageGenerator} on the fixture model: progress, cancellation, seeds, validation. */
class ZImagePipelineTest {
    static Backend backend;
    static ZImagePipeline pipe;

    @BeforeAll
    static void load() throws Exception {
        backend = Backends.cpu();
        pipe = ZImagePipeline.load(TestFixtures.folders().getFirst(), backend);
    }

    @AfterAll
    static void close() {
        if (pipe != null) pipe.close();
        if (backend != null) backend.close();
    }

    private static GenerationRequest request(int steps, long seed, int count) {
        return new GenerationRequest("a red fox in the snow, 35mm photo", "", 32, 48, steps, 0.0, seed, count, null, 0.6);
    }

    @Test
    void reportsEveryStepOfEveryImageAndSeedsFollowTheIndex() {
        List<String> seen = new ArrayList<>();
        List<GeneratedImage> images = pipe.generate(request(2, 7, 2), (i, s, n) -> seen.add(i + ":" + s + "/" + n), new CancellationToken());
        assertEquals(List.of("0:1/2", "0:2/2", "1:1/2", "1:2/2"), seen);
        assertEquals(2, images.size());
        assertEquals(7, images.get(0).seed());
        assertEquals(8, images.get(1).seed());
        assertEquals(32 * 48 * 3, images.get(0).rgb().length);
        assertEquals(32, images.get(0).width());
        assertEquals(48, images.get(0).height());
        assertFalse(Arrays.equals(images.get(0).rgb(), images.get(1).rgb()), "different seeds give different images");
        assertEquals(List.of("text", "step 1", "step 2", "denoise", "vae"), List.copyOf(images.get(0).stageMillis().keySet()));
        // the same seed reproduces the same image
        Images.assertSameImage(images.get(1).rgb(), pipe.generate(request(2, 8, 1), ProgressListener.NONE, null).getFirst().rgb(), "seed 8 again");
        assertTrue(pipe.residentBytes() > 0, "the kept DiT and VAE workspaces are accounted for");
    }

    @Test
    void cancellationStopsBetweenSteps() {
        CancellationToken cancel = new CancellationToken();
        List<Integer> steps = new ArrayList<>();
        var e = assertThrows(CancelledException.class, () -> pipe.generate(request(4, 1, 1), (i, s, n) -> {
            steps.add(s);
            if (s == 2) cancel.cancel("client went away");
        }, cancel));
        assertEquals("client went away", e.getMessage());
        assertEquals(List.of(1, 2), steps, "no step runs after the cancel");
    }

    @Test
    void invalidRequestsNameTheField() {
        var e = assertThrows(InvalidRequestException.class, () -> pipe.generate(request(2, 1, 1).withSize(40, 48), null, null));
        assertEquals("width", e.field());
        e = assertThrows(InvalidRequestException.class, () -> pipe.generate(request(0, 1, 1), null, null));
        assertEquals("steps", e.field());
        e = assertThrows(InvalidRequestException.class, () -> pipe.generate(
                new GenerationRequest(" ", "", 32, 32, 2, 0, 1, 1, null, 0.6), null, null));
        assertEquals("prompt", e.field());
        e = assertThrows(InvalidRequestException.class, () -> pipe.generate(
                new GenerationRequest("x", "", 32, 32, 4, 0, 1, 1, new byte[5], 0.5), null, null));
        assertEquals("image", e.field());
        e = assertThrows(InvalidRequestException.class, () -> pipe.generate(
                new GenerationRequest("x", "", 32, 32, 4, 0, 1, 1, new byte[32 * 32 * 3], 0), null, null));
        assertEquals("strength", e.field());
    }

    @Test
    void guidanceRunsTheNegativePromptAndChangesTheImage() {
        GenerationRequest plain = request(2, 3, 1);
        GenerationRequest guided = new GenerationRequest(plain.prompt(), "blurry", 32, 48, 2, 3.0, 3, 1, null, 0.6);
        assertFalse(Arrays.equals(pipe.generate(plain, null, null).getFirst().rgb(), pipe.generate(guided, null, null).getFirst().rgb()));
    }

    @Test
    void img2imgRunsTheTailOfTheScheduleFromTheEncodedImage() {
        byte[] init = pipe.generate(request(2, 5, 1), null, null).getFirst().rgb();
        List<Integer> steps = new ArrayList<>();
        GenerationRequest r = new GenerationRequest("a red fox", "", 32, 48, 8, 0, 9, 1, init, 0.5);
        GeneratedImage out = pipe.generate(r, (i, s, n) -> steps.add(n), null).getFirst();
        assertEquals(List.of(4, 4, 4, 4), steps, "strength 0.5 of 8 steps runs the last 4");
        assertTrue(out.stageMillis().containsKey("encode"));
        // with strength 1 the image is ignored only in the sense of σ₀ = 1: the result is still deterministic
        GenerationRequest full = new GenerationRequest("a red fox", "", 32, 48, 2, 0, 9, 1, init, 1.0);
        Images.assertSameImage(pipe.generate(full, null, null).getFirst().rgb(), pipe.generate(full, null, null).getFirst().rgb(), "img2img again");
    }

    @Test
    void img2imgDrawsThePosteriorSampleThenTheNoiseFromOneGenerator() throws Exception {
        byte[] init = pipe.generate(request(1, 2, 1), null, null).getFirst().rgb();
        GenerationRequest r = new GenerationRequest("a red fox", "", 32, 48, 4, 0, 11, 1, init, 0.5);
        // diffusers' img2img: vae.encode(image).latent_dist.sample(generator), then randn_tensor(shape, generator)
        TorchGenerator g = new TorchGenerator(11);
        int lh = pipe.latentSide(48), lw = pipe.latentSide(32);
        float[] z = pipe.encodeImage(init, 32, 48, g);
        FlowMatchSchedule tail = FlowMatchSchedule.create(
                dev.zimage4j.check.SchedulerStage.readConfig(TestFixtures.folders().getFirst()), 4, lh * lw / 4).from(2);
        tail.noise(z, g.randn(1, pipe.latentChannels(), lh, lw));
        float[] x = pipe.denoise(z, lh, lw, pipe.encodePrompt("a red fox"), null, tail, Guidance.OFF, null, null);
        Images.assertSameImage(ZImagePipeline.toRgb8(pipe.decode(x, lh, lw), 48, 32), pipe.generate(r, null, null).getFirst().rgb(),
                "img2img by hand vs generate");
    }

    @Test
    void toRgb8RoundsHalfToEvenLikeNumpy() {
        int ties = 0;
        for (int k = 0; k < 255; k++) {
            float v = (k + 0.5f) / 255f;
            if (v * 255f != k + 0.5f) continue; // only values whose product is exactly a tie
            byte[] rgb = ZImagePipeline.toRgb8(new float[]{v, v, v}, 1, 1);
            assertEquals(k % 2 == 0 ? k : k + 1, rgb[0] & 0xff, "tie " + (k + 0.5f) + " rounds to the even neighbour");
            ties++;
        }
        assertTrue(ties > 10, "found " + ties + " exact ties");
        // channel planes become interleaved pixels
        byte[] rgb = ZImagePipeline.toRgb8(new float[]{0f, 1f, 1f, 0f, 0.2f, 0.6f}, 1, 2);
        assertArrayEquals(new byte[]{0, (byte) 255, 51, (byte) 255, 0, (byte) 153}, rgb);
    }

    @Test
    void modelFilesRejectUnknownLayoutsClearly() {
        Path fixture = TestFixtures.testdata();
        var e = assertThrows(ModelLoadException.class, () -> ModelFiles.resolve(List.of(fixture)));
        assertTrue(e.getMessage().contains("model_index.json"), e.getMessage());
    }
}
