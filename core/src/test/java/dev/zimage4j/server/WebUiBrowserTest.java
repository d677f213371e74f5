package dev.zimage4j.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web page end to end in headless Chromium: a real browser against the real HTTP server on loopback
 * (engine + {@link ApiServer}, deterministic {@link TestGeneratorFactory} models tiny-a/b/c, 50 ms a step).
 * Skipped (with the reason) when the system Chromium or its chromedriver is not installed. Leaves the
 * page as a person would see it after a generation in {@code target/webui-screenshot.png}.
 */
class WebUiBrowserTest {

    /** Debian's chromium and chromium-driver; system properties zimage.chromium / zimage.chromedriver point elsewhere. */
    private static final Path CHROMIUM = Path.of(System.getProperty("zimage.chromium", "/usr/bin/chromium"));
    private static final Path CHROMEDRIVER = Path.of(System.getProperty("zimage.chromedriver", "/usr/bin/chromedriver"));
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final long STEP_MILLIS = 50;   // 100 steps (5 s) leave time to cancel even on a busy machine
    private static final int MAX_PROMPT = 100;

    @TempDir
    static Path dir;
    private static TestServer server;
    private static WebDriver driver;
    private static String base;

    private static final String MISSING = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER) ? null
            : "web UI browser test skipped: needs " + CHROMIUM + " and " + CHROMEDRIVER
              + " (Debian: apt-get install chromium chromium-driver; scripts/ci-setup.sh does it)";

    @BeforeAll
    static void start() throws IOException {
        if (MISSING != null) {
            // each test then reports itself skipped with this reason (a class-level abort shows as "0 tests")
            System.err.println(MISSING);
            return;
        }
        // one job may wait behind the running one, so the busy test can fill the queue with two
        server = new TestServer(dir, STEP_MILLIS, TestServer.JSON.createObjectNode().put("queue_capacity", 1)
                .put("max_prompt_chars", MAX_PROMPT).put("max_cached_models", 3));   // 3: no test evicts another's model
        base = server.api.uri().toString();
        Path profile = Files.createDirectories(dir.resolve("chromium-profile"));
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                "--disable-dev-shm-usage", "--window-size=1280,1000", "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
    }

    @AfterAll
    static void stop() {
        if (driver != null) driver.quit();
        if (server != null) server.close();
    }

    @BeforeEach
    void openPage() {
        Assumptions.assumeTrue(MISSING == null, MISSING);
        driver.get(base + "/");
        waitUntil("the model list to load", d -> !d.findElements(By.cssSelector("#model option[value='tiny-a']")).isEmpty());
    }

    @Test
    void promptGeneratesWithLiveProgressToTheImage() throws IOException {
        recordProgress();
        type("prompt", "a lighthouse at dusk, oil painting");
        new Select(byId("size-preset")).selectByValue("256x256");
        byId("seed").clear();
        byId("seed").sendKeys("7");
        byId("generate").click();

        assertEquals("tiny-a — loaded, warm", selectedModel(),
                "the prewarmed default model is picked and shown warm");
        waitUntil("the result image", d -> imageLoaded());
        assertEquals(256L, js("return document.querySelector('#result-images img').naturalWidth;"));
        List<Long> seen = progressValues();
        assertEquals(100L, seen.getLast(), "progress ends at 100 %: " + seen);
        assertTrue(seen.stream().anyMatch(v -> v > 0 && v < 100), "progress moves through steps: " + seen);
        for (int i = 1; i < seen.size(); i++) assertTrue(seen.get(i) >= seen.get(i - 1), "progress never goes back: " + seen);
        assertTrue(byId("progress-pct").getText().equals("100 %"));
        assertTrue(byId("progress-text").getText().startsWith("Done in"), byId("progress-text").getText());

        String params = byId("result-params").getText();
        assertTrue(params.contains("a lighthouse at dusk"), params);
        assertTrue(params.contains("256 × 256"), params);
        assertTrue(params.contains("Latency"), params);
        assertTrue(params.contains("Server time") && params.contains("denoise"), params);
        WebElement download = driver.findElement(By.cssSelector("#result-images a.download"));
        assertTrue(download.getAttribute("href").contains("/v1/images/"), download.getAttribute("href"));
        assertFalse(download.getAttribute("download").isBlank());
        assertTrue(byId("error").getAttribute("hidden") != null, "no error shown");

        waitUntil("the gallery to list the new image", d -> !d.findElements(By.cssSelector("#gallery .gallery-item")).isEmpty());
        screenshot("target/webui-screenshot.png");
    }

    @Test
    void galleryImageParametersCanBeReused() {
        type("prompt", "a gallery test, watercolour");
        new Select(byId("size-preset")).selectByValue("custom");
        type("width", "160");
        type("height", "96");
        type("steps", "3");
        type("seed", "99");
        byId("generate").click();
        waitUntil("the result image", d -> imageLoaded());

        driver.navigate().refresh();   // a fresh page knows the image only from the server's gallery
        waitUntil("the gallery", d -> !d.findElements(By.cssSelector("#gallery .gallery-item")).isEmpty());
        assertTrue(byId("prompt").getAttribute("value").isEmpty());
        driver.findElement(By.cssSelector("#gallery .gallery-item")).click();
        waitUntil("the image viewer", d -> byId("viewer").isDisplayed());
        String params = byId("viewer-params").getText();
        assertTrue(params.contains("a gallery test, watercolour") && params.contains("160 × 96") && params.contains("99"), params);
        byId("viewer-reuse").click();
        assertEquals("a gallery test, watercolour", byId("prompt").getAttribute("value"));
        assertEquals("custom", new Select(byId("size-preset")).getFirstSelectedOption().getAttribute("value"));
        assertEquals("160", byId("width").getAttribute("value"));
        assertEquals("96", byId("height").getAttribute("value"));
        assertEquals("3", byId("steps").getAttribute("value"));
        assertEquals("99", byId("seed").getAttribute("value"));
    }

    @Test
    void cancelStopsTheRunningJob() throws Exception {
        type("prompt", "something slow to cancel");
        new Select(byId("size-preset")).selectByValue("256x256");
        type("steps", "100");
        byId("generate").click();
        waitUntil("the first step", d -> progress() > 0);
        byId("cancel").click();
        waitUntil("the page to report the cancellation", d -> byId("progress-text").getText().equals("Cancelled"));
        assertTrue(progress() < 100, "stopped before the end");
        assertTrue(byId("generate").isEnabled(), "Generate is usable again");
        assertFalse(byId("cancel").isEnabled());
        assertTrue(byId("result").getAttribute("hidden") != null, "no result image for a cancelled job");
        String job = byId("progress-block").getAttribute("data-job");
        assertEquals("cancelled", TestServer.json(server.get("/v1/jobs/" + job)).get("status").asText(), "the server cancelled job " + job);
    }

    @Test
    void invalidSizeShowsItsError() throws IOException {
        type("prompt", "anything");
        new Select(byId("size-preset")).selectByValue("custom");
        byId("width").clear();
        byId("width").sendKeys("1000");
        byId("generate").click();
        WebElement error = byId("error");
        waitUntil("the size error", d -> error.isDisplayed());
        assertTrue(error.getText().contains("Width 1000 is not a valid size"), error.getText());
        assertTrue(error.getText().contains("multiples of 16"), error.getText());
        assertTrue(error.getText().contains("992 or 1008"), error.getText());
        assertTrue(byId("width").getAttribute("class").contains("invalid"));
        assertTrue(byId("progress-block").getAttribute("hidden") != null, "nothing was submitted");
        screenshot("target/webui-error-screenshot.png");
    }

    @Test
    void serverSideValidationErrorNamesTheField() {
        type("prompt", "x".repeat(MAX_PROMPT + 20));   // the server's max_prompt_chars, which the page does not know
        new Select(byId("size-preset")).selectByValue("256x256");
        byId("generate").click();
        WebElement error = byId("error");
        waitUntil("the prompt error", d -> error.isDisplayed());
        assertEquals("Prompt: is " + (MAX_PROMPT + 20) + " characters; at most " + MAX_PROMPT + " (max_prompt_chars).", error.getText());
        assertTrue(byId("prompt").getAttribute("class").contains("invalid"));
        assertTrue(byId("generate").isEnabled());
    }

    @Test
    void fullQueueSaysTheServerIsBusy() throws Exception {
        // one job running and one waiting fill the queue (queue_capacity 1)
        String body = "{\"prompt\": \"filler\", \"width\": 64, \"height\": 64, \"steps\": 100}";
        String running = TestServer.json(server.post("/v1/generate?async=true", body)).get("id").asText();
        server.awaitStatus(running, "running");
        String waiting = TestServer.json(server.post("/v1/generate?async=true", body)).get("id").asText();
        try {
            type("prompt", "one too many");
            new Select(byId("size-preset")).selectByValue("256x256");
            byId("generate").click();
            WebElement error = byId("error");
            waitUntil("the busy error", d -> error.isDisplayed());
            assertTrue(error.getText().matches("The server is busy: its queue is full\\. Try again in \\d+ s\\."), error.getText());
            assertTrue(byId("generate").isEnabled());
        } finally {
            server.delete("/v1/jobs/" + waiting);
            server.delete("/v1/jobs/" + running);
            server.awaitStatus(running, "cancelled");
        }
    }

    @Test
    void leavingThePageCancelsItsJob() throws Exception {
        type("prompt", "abandoned");
        new Select(byId("size-preset")).selectByValue("256x256");
        type("steps", "100");
        byId("generate").click();
        waitUntil("the first step", d -> progress() > 0);
        String job = byId("progress-block").getAttribute("data-job");
        driver.navigate().refresh();
        server.awaitStatus(job, "cancelled");
    }

    @Test
    void modelPickerShowsStateAndLoadsAModel() {
        new Select(byId("model")).selectByValue("tiny-c");
        assertEquals("tiny-c — not loaded", selectedModel());
        assertTrue(byId("model-state").getText().startsWith("Not loaded yet"), byId("model-state").getText());
        byId("model-load").click();
        waitUntil("tiny-c to load", d -> selectedModel().equals("tiny-c — loaded"));
        assertFalse(byId("model-load").isDisplayed());
        assertEquals("tiny-c", js("return document.getElementById('model').value;"), "the choice is kept");
    }

    @Test
    void tokenProtectedServerAsksForTheTokenOnce() throws Exception {
        try (TestServer guarded = new TestServer(dir.resolve("guarded"), STEP_MILLIS,
                TestServer.JSON.createObjectNode().put("auth_token", "s3cret"))) {
            driver.get(guarded.api.uri() + "/");
            waitUntil("the token prompt", d -> isAlertPresent());
            var alert = driver.switchTo().alert();
            assertTrue(alert.getText().contains("access token"), alert.getText());
            alert.sendKeys("s3cret");
            alert.accept();
            waitUntil("the model list", d -> !d.findElements(By.cssSelector("#model option[value='tiny-a']")).isEmpty());
            assertFalse(isAlertPresent(), "asked once, not once per refused request");
            type("prompt", "behind a token");
            new Select(byId("size-preset")).selectByValue("256x256");
            byId("generate").click();
            waitUntil("the result image", d -> imageLoaded());
            assertTrue(js("return document.querySelector('#result-images img').src;").toString().startsWith("blob:"),
                    "images are fetched with the token");
        }
    }

    @Test
    void pageWaitsThroughAServerRestartAndShowsTheJournaledJob() throws Exception {
        int port;
        try (var probe = new java.net.ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        Path home = dir.resolve("restarting");
        var config = TestServer.JSON.createObjectNode().put("port", port);
        TestServer first = new TestServer(home, STEP_MILLIS, config);
        try {
            driver.get(first.api.uri() + "/");
            waitUntil("the model list", d -> !d.findElements(By.cssSelector("#model option[value='tiny-a']")).isEmpty());
            // a job runs, the page's job waits behind it, then the server stops: the waiting job stays journaled
            String filler = TestServer.json(first.post("/v1/generate?async=true",
                    "{\"prompt\": \"filler\", \"width\": 64, \"height\": 64, \"steps\": 100}")).get("id").asText();
            first.awaitStatus(filler, "running");
            type("prompt", "survives a restart");
            new Select(byId("size-preset")).selectByValue("256x256");
            byId("generate").click();
            waitUntil("the page to be queued", d -> byId("progress-text").getText().startsWith("Waiting in queue"));
        } finally {
            first.close();
        }
        waitUntil("the page to notice", d -> byId("progress-text").getText().startsWith("Lost the connection"));
        try (TestServer second = new TestServer(home, STEP_MILLIS, config)) {
            waitUntil("the journaled job's image", d -> imageLoaded());
            assertTrue(byId("error").getAttribute("hidden") != null, byId("error").getText());
            assertTrue(byId("result-params").getText().contains("survives a restart"));
        }
    }

    @Test
    void unknownModelIsReportedInWords() {
        // A model removed from the server after the page listed it: the server's 404 reaches the person.
        js("const o = document.createElement('option'); o.value = 'gone-model'; o.textContent = 'gone-model';"
                + "document.getElementById('model').append(o); document.getElementById('model').value = 'gone-model';");
        type("prompt", "anything");
        new Select(byId("size-preset")).selectByValue("256x256");
        byId("generate").click();
        WebElement error = byId("error");
        waitUntil("the model error", d -> error.isDisplayed());
        assertTrue(error.getText().startsWith("Model not found"), error.getText());
        assertTrue(error.getText().contains("gone-model"), error.getText());
        assertTrue(byId("generate").isEnabled());
    }

    // ------------------------------------------------------------------ helpers

    private static WebElement byId(String id) {
        return driver.findElement(By.id(id));
    }

    private static void type(String id, String text) {
        byId(id).clear();
        byId(id).sendKeys(text);
    }

    private static Object js(String script) {
        return ((JavascriptExecutor) driver).executeScript(script);
    }

    /** The picked model's option text, read in one step (the page rebuilds the options when the list refreshes). */
    private static String selectedModel() {
        return (String) js("const s = document.getElementById('model'); return s.options[s.selectedIndex].text;");
    }

    private static boolean isAlertPresent() {
        try {
            driver.switchTo().alert();
            return true;
        } catch (org.openqa.selenium.NoAlertPresentException e) {
            return false;
        }
    }

    private static long progress() {
        return Long.parseLong(byId("progress").getAttribute("aria-valuenow"));
    }

    /** Records every value the progress bar shows, so the test sees the steps, not just the end. */
    private static void recordProgress() {
        js("window.__progress = []; const bar = document.getElementById('progress');"
                + "new MutationObserver(() => window.__progress.push(Number(bar.getAttribute('aria-valuenow'))))"
                + ".observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});");
    }

    @SuppressWarnings("unchecked")
    private static List<Long> progressValues() {
        return (List<Long>) js("return window.__progress;");
    }

    private static boolean imageLoaded() {
        return Boolean.TRUE.equals(js("const i = document.querySelector('#result-images img');"
                + "return !!i && i.complete && i.naturalWidth > 0;"));
    }

    private static void waitUntil(String what, java.util.function.Function<WebDriver, Boolean> condition) {
        new WebDriverWait(driver, WAIT).pollingEvery(Duration.ofMillis(20)).withMessage(() -> "waiting for " + what + "; error box: '"
                + byId("error").getText() + "', progress: '" + byId("progress-text").getText() + "'").until(condition);
    }

    /** Saves the whole page (the window is grown to the page's height first) as a test artifact. */
    private static void screenshot(String path) throws IOException {
        long height = (Long) js("return document.documentElement.scrollHeight;");
        driver.manage().window().setSize(new org.openqa.selenium.Dimension(1280, (int) Math.min(height + 140, 3000)));
        File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
        Path target = Path.of(path);
        Files.createDirectories(target.getParent());
        Files.copy(shot.toPath(), target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        driver.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 1000));
    }

}
