package dev.zimage4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zimage4j.engine.Engine;
import dev.zimage4j.engine.EngineConfig;
import dev.zimage4j.engine.GeneratorFactory;
import dev.zimage4j.cli.GenerateCommand;
import dev.zimage4j.engine.LoadTrace;
import dev.zimage4j.engine.ModelRegistry;
import dev.zimage4j.kernels.Backend;
import dev.zimage4j.kernels.Backends;
import dev.zimage4j.pipeline.CancellationToken;
import dev.zimage4j.pipeline.GeneratedImage;
import dev.zimage4j.pipeline.GenerationRequest;
import dev.zimage4j.pipeline.ProgressListener;
import dev.zimage4j.pipeline.ZImagePipeline;
import dev.zimage4j.png.PngImage;
import dev.zimage4j.png.PngReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server on the real pipeline with the tiny fixture model (testdata/tiny-a): same bytes as generating in-process. */
class RealModelTest {
    @TempDir
    Path dir;

    @Test
    void servesTheTinyModelWithTheSameImagesAsTheInProcessPipeline() throws Exception {
        Path model = Path.of(System.getProperty("zimage.root")).resolve("testdata/tiny-a");
        ObjectNode o = TestServer.JSON.createObjectNode();
        o.put("port", 0);
        o.putObject("models").put("tiny-a", model.toString());
        o.put("output_dir", dir.resolve("out").toString());
        o.put("default_size", "64x64");
        o.put("default_steps", 2);
        o.put("backend", "cpu");
        o.putObject("prewarm_on_startup").putArray("models");   // prewarm is covered by ApiServerTest; keep this test short
        EngineConfig config = EngineConfig.load(null, o);
        Engine engine = Engine.open(config, ModelRegistry.of(config), GeneratorFactory.fromSystem(config.backend()));
        ApiServer api = ApiServer.start(engine);
        try {
            engine.prewarmAndStart();
            HttpClient http = HttpClient.newHttpClient();
            String body = "{\"prompt\":\"a red fox in the snow\",\"seed\":42,\"count\":2,\"output\":\"base64\"}";
            var r = http.send(HttpRequest.newBuilder(api.uri().resolve("/v1/generate")).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            JsonNode images = TestServer.JSON.readTree(r.body()).get("images");

            GenerationRequest req = new GenerationRequest("a red fox in the snow", "", 64, 64, 2, 0.0, 42, 2, null, 0.6);
            try (Backend b = Backends.cpu(); ZImagePipeline p = ZImagePipeline.load(model, b)) {
                List<GeneratedImage> expected = p.generate(req, ProgressListener.NONE, new CancellationToken());
                for (int i = 0; i < 2; i++) {
                    PngImage served = PngReader.decode(Base64.getDecoder().decode(images.get(i).get("b64_png").asText()));
                    assertEquals(GenerateCommand.metadata(expected.get(i), p.modelId()), served.text(), "the CLI's metadata");
                    // the CPU backend is deterministic, so the server's image is bitwise the in-process one
                    assertArrayEquals(expected.get(i).rgb(), served.rgb(), "image " + i + " vs the in-process pipeline's");
                }
            }
            // loaded once, by the request, component by component
            List<LoadTrace.Load> loads = engine.loadTrace().loads();
            assertEquals(1, loads.size());
            assertEquals("request " + TestServer.JSON.readTree(r.body()).get("id").asText(), loads.getFirst().trigger());
            assertEquals(List.of("tokenizer", "text encoder", "transformer", "vae"),
                    loads.getFirst().components().stream().map(LoadTrace.Component::name).toList());
            // the memory each component holds beyond the mapping (on the CPU: the norm vectors, biases and pad
            // tokens converted to float) is traced per component, not only for the whole model
            for (LoadTrace.Component c : loads.getFirst().components().subList(1, 4))
                assertTrue(c.bytes() > 0, c.name() + " holds converted vectors, traced as " + c.bytes() + " bytes");
            assertEquals(1, engine.metrics().stageCount("denoise"));
        } finally {
            engine.shutdown();
            api.stop(0);
        }
    }
}
