package dev.zimage4j.cli;

import dev.zimage4j.check.TestFixtures;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code zimage check-reference} on the project's fixtures: what it prints and its exit status. */
class CheckReferenceCommandTest {
    static final Path TINY_A = TestFixtures.tinyA();

    record Run(int status, String out, String err) {
    }

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void tinyATokenizerAndTextStagesPass() {
        Run r = run("check-reference", TINY_A.toString(), "--only", "tokenizer,text", "--backend", "cpu");
        assertEquals(0, r.status(), r.out() + r.err());
        assertFalse(r.out().contains("FAIL"), r.out());
        long textPasses = r.out().lines().filter(l -> l.startsWith("text") && l.contains("PASS")).count();
        long tokenizerPasses = r.out().lines().filter(l -> l.startsWith("tokenizer") && l.contains("PASS")).count();
        assertEquals(5, textPasses, r.out());
        assertEquals(32, tokenizerPasses, r.out());
        assertTrue(r.out().contains("37 passed, 0 failed"), r.out());
    }

    @Test
    void aWrongReferenceFailsWithNonZeroStatus(@TempDir Path tmp) throws Exception {
        // the same model and tensors, with one expected id changed and one text case pointing at another case's tensor
        for (String f : new String[]{"expected.safetensors", "model_index.json"}) Files.copy(TINY_A.resolve(f), tmp.resolve(f));
        Files.createDirectories(tmp.resolve("text_encoder"));
        for (String f : new String[]{"config.json", "model.safetensors"})
            Files.copy(TINY_A.resolve("text_encoder").resolve(f), tmp.resolve("text_encoder").resolve(f));
        ObjectMapper m = new ObjectMapper();
        ObjectNode cases = (ObjectNode) m.readTree(TINY_A.resolve("cases.json").toFile());
        ArrayNode ids = (ArrayNode) cases.get("tokenizer_cases").get(0).get("ids_raw");
        ids.set(2, ids.get(2).asInt() + 1);
        ArrayNode text = (ArrayNode) cases.get("text_encoder_cases");
        ((ObjectNode) text.get(2)).put("tensor", "text.3.hidden"); // same length (10 tokens), other prompt
        m.writeValue(tmp.resolve("cases.json").toFile(), cases);

        Run r = run("check-reference", tmp.toString(), "--only", "text,tokenizer");
        assertEquals(1, r.status(), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("tokenizer") && l.contains("FAIL") && l.contains("ids differ at 2")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("text") && l.contains("FAIL") && l.contains("text.3.hidden")), r.out());
        assertTrue(r.out().contains("2 failed"), r.out());
        // stages run in their order regardless of how --only lists them
        assertTrue(r.out().indexOf("\ntokenizer ") < r.out().indexOf("\ntext "), r.out());
    }

    @Test
    void aBrokenStageIsAFailure(@TempDir Path tmp) throws Exception {
        // text cases present but no text_encoder/ folder: the stage fails with the loader's message
        Files.copy(TINY_A.resolve("expected.safetensors"), tmp.resolve("expected.safetensors"));
        Files.copy(TINY_A.resolve("cases.json"), tmp.resolve("cases.json"));
        Run r = run("check-reference", tmp.toString(), "--only", "text");
        assertEquals(1, r.status(), r.out());
        assertTrue(r.out().contains("stage failed"), r.out());
    }

    @Test
    void badArguments() {
        Run r = run("check-reference", TINY_A.toString(), "--only", "tokenizer,nosuchstage");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("unknown stage nosuchstage; known: ") && r.err().contains("tokenizer") && r.err().contains("text"), r.err());
        r = run("check-reference", "/no/such/folder");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("/no/such/folder"), r.err());
        r = run("check-reference");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("missing fixtures folder"), r.err());
        r = run("check-reference", TINY_A.toString(), "--backend", "tpu");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("unknown backend 'tpu'"), r.err());
    }
}
