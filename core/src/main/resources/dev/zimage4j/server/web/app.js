// zimage4j web page: plain JavaScript against the server's /v1 HTTP API, no build step.
// Flow: validate the form → POST /v1/generate?async=true → follow GET /v1/jobs/{id}/events (SSE)
// → show the images of the finished job; DELETE /v1/jobs/{id} cancels. Every failure ends in a
// sentence in the error box: nothing fails silently.
'use strict';

(() => {
  // Mirrors GenerationRequest's limits so a person gets the message before a round trip.
  const LIMITS = { minSize: 16, maxSize: 4096, sizeMultiple: 16, maxSteps: 100, maxGuidance: 30, maxCount: 16 };
  const FIELD_NAMES = {
    prompt: 'Prompt', negative_prompt: 'Negative prompt', width: 'Width', height: 'Height', steps: 'Steps',
    guidance: 'Guidance', seed: 'Seed', count: 'Images', model: 'Model', output: 'Output',
  };
  const TOKEN_KEY = 'zimage4j.token';

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $('gen-form'), prompt: $('prompt'), negative: $('negative-prompt'), preset: $('size-preset'),
    width: $('width'), height: $('height'), steps: $('steps'), guidance: $('guidance'), seed: $('seed'),
    seedRandom: $('seed-random'), seedAuto: $('seed-auto'), count: $('count'), model: $('model'),
    modelLoad: $('model-load'), modelState: $('model-state'), generate: $('generate'), cancel: $('cancel'),
    error: $('error'), progressBlock: $('progress-block'), progress: $('progress'), progressFill: $('progress-fill'),
    progressText: $('progress-text'), progressPct: $('progress-pct'), result: $('result'),
    resultImages: $('result-images'), resultParams: $('result-params'), placeholder: $('placeholder'),
    gallery: $('gallery'), galleryEmpty: $('gallery-empty'), galleryRefresh: $('gallery-refresh'),
    serverState: $('server-state'), serverStateText: $('server-state-text'),
    viewer: $('viewer'), viewerImg: $('viewer-img'), viewerParams: $('viewer-params'),
    viewerReuse: $('viewer-reuse'), viewerDownload: $('viewer-download'),
  };

  /** The job being run, or null. */
  let current = null;
  let models = [];

  // ---------------------------------------------------------------- HTTP

  /** An HTTP failure already phrased for a person. */
  class ApiError extends Error {
    constructor(message, status, field) {
      super(message);
      this.status = status;
      this.field = field;
    }
  }

  function authHeaders(extra) {
    const h = Object.assign({}, extra);
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  /** fetch that turns a network failure or a non-2xx answer into an ApiError with a readable message. */
  async function api(path, options = {}) {
    let res;
    const sentToken = localStorage.getItem(TOKEN_KEY);
    try {
      res = await fetch(path, Object.assign({}, options, { headers: authHeaders(options.headers) }));
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError('Cannot reach the zimage4j server (' + location.host + '). Is `zimage serve` still running?', 0);
    }
    if (res.ok) return res;
    // (an answer to a request sent before the person gave a new token says nothing about that token)
    if (res.status === 401 && sentToken === localStorage.getItem(TOKEN_KEY)) tokenRejected();
    const text = await res.text().catch(() => '');
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { /* plain-text error body */ }
    throw new ApiError(describeHttpError(res, body, text, options.what), res.status, body && errorField(body));
  }

  async function apiJson(path, options) {
    const res = await api(path, options);
    const text = await res.text();
    try {
      return text ? JSON.parse(text) : {};
    } catch (_) {
      throw new ApiError('The server sent an answer this page cannot read (not JSON) for ' + path + '.', res.status);
    }
  }

  // Error bodies are {"error": {"message", "type", "param", "status"}}; job events carry "error" as a string.
  function errorMessage(body) {
    const e = body && body.error;
    return (e && typeof e === 'object' ? e.message : e) || '';
  }

  function errorField(body) {
    const e = body && body.error;
    return (e && typeof e === 'object' && e.param) || null;
  }

  /** One sentence per failure kind: what went wrong and what to do about it. */
  function describeHttpError(res, body, text, what) {
    const msg = errorMessage(body) || (body ? '' : text.trim());
    const field = body && errorField(body);
    switch (res.status) {
      case 400:
      case 422: {
        if (field && FIELD_NAMES[field]) {
          const detail = msg.startsWith(field + ' ') ? msg.slice(field.length + 1) : msg;
          return FIELD_NAMES[field] + ': ' + (detail || 'is not valid') + '.';
        }
        return 'The server rejected the request: ' + (msg || 'invalid parameters') + '.';
      }
      case 401:
      case 403:
        return 'This server needs an access token' + (msg ? ' (' + msg + ')' : '') +
          '. Enter it when asked, then try again; reload the page to be asked again.';
      case 404:
        if (what === 'model' || /model/i.test(msg))
          return 'Model not found: ' + (msg || 'the selected model is not configured on this server') +
            '. Pick another model from the list.';
        if (what === 'job') return 'That job no longer exists on the server (it may have finished or been restarted).';
        return 'Not found: ' + (msg || res.url) + '.';
      case 409:
        return 'Conflict: ' + (msg || 'the server cannot do that right now') + '.';
      case 413:
        return 'The request is too large for the server' + (msg ? ' (' + msg + ')' : '') + '. Shorten the prompt.';
      case 429: {
        const after = res.headers.get('Retry-After');
        return 'The server is busy: its queue is full. Try again' + (after ? ' in ' + after + ' s' : ' in a moment') + '.';
      }
      case 503:
        return 'The server is not ready yet (it is still loading and warming up its models). Try again shortly.' +
          (msg ? ' (' + msg + ')' : '');
      default:
        return 'The server failed (HTTP ' + res.status + ')' + (msg ? ': ' + msg : '') + '.';
    }
  }

  // ---------------------------------------------------------------- form

  const numberFields = () => ({
    width: el.width, height: el.height, steps: el.steps, guidance: el.guidance, seed: el.seed, count: el.count,
  });

  function clearInvalid() {
    for (const input of el.form.querySelectorAll('.invalid')) input.classList.remove('invalid');
  }

  function markInvalid(field) {
    const input = { prompt: el.prompt, negative_prompt: el.negative, model: el.model }[field] || numberFields()[field];
    if (!input) return;
    input.classList.add('invalid');
    if (field === 'width' || field === 'height') el.preset.value = 'custom';
    input.focus();
  }

  function sizeProblem(name, raw) {
    const v = Number(raw);
    if (raw === '' || !Number.isInteger(v)) return name + ' must be a whole number of pixels.';
    if (v < LIMITS.minSize || v > LIMITS.maxSize || v % LIMITS.sizeMultiple !== 0) {
      const down = Math.max(LIMITS.minSize, Math.min(LIMITS.maxSize, Math.floor(v / 16) * 16));
      const up = Math.max(LIMITS.minSize, Math.min(LIMITS.maxSize, Math.ceil(v / 16) * 16));
      const suggestion = down === up ? down : down + ' or ' + up;
      return name + ' ' + v + ' is not a valid size: width and height must be multiples of 16 between ' +
        LIMITS.minSize + ' and ' + LIMITS.maxSize + ' pixels (try ' + suggestion + ').';
    }
    return null;
  }

  /** Reads and checks the form. Returns {request} or {field, message}. */
  function readForm() {
    const prompt = el.prompt.value.trim();
    if (!prompt) return { field: 'prompt', message: 'Please type a prompt: describe the image you want.' };
    for (const [field, name] of [['width', 'Width'], ['height', 'Height']]) {
      const p = sizeProblem(name, el[field].value.trim());
      if (p) return { field, message: p };
    }
    const int = (input) => (input.value.trim() === '' ? NaN : Number(input.value));
    const steps = int(el.steps);
    if (!Number.isInteger(steps) || steps < 1 || steps > LIMITS.maxSteps)
      return { field: 'steps', message: 'Steps must be a whole number from 1 to ' + LIMITS.maxSteps + ' (Turbo needs 8).' };
    const guidance = int(el.guidance);
    if (!Number.isFinite(guidance) || guidance < 0 || guidance > LIMITS.maxGuidance)
      return { field: 'guidance', message: 'Guidance must be a number from 0 to ' + LIMITS.maxGuidance + ' (Turbo uses 0).' };
    const count = int(el.count);
    if (!Number.isInteger(count) || count < 1 || count > LIMITS.maxCount)
      return { field: 'count', message: 'Images must be a whole number from 1 to ' + LIMITS.maxCount + '.' };
    if (el.seedAuto.checked) el.seed.value = randomSeed();
    const seed = int(el.seed);
    if (!Number.isSafeInteger(seed) || seed < 0)
      return { field: 'seed', message: 'Seed must be a whole number from 0 to ' + Number.MAX_SAFE_INTEGER + '.' };
    const request = {
      prompt, negative_prompt: el.negative.value.trim(), width: Number(el.width.value), height: Number(el.height.value),
      steps, guidance, seed, count, output: 'url',
    };
    if (el.model.value) request.model = el.model.value;
    return { request };
  }

  function applyParams(p) {
    if (p.prompt != null) el.prompt.value = p.prompt;
    el.negative.value = p.negative_prompt || '';
    if (p.width && p.height) {
      el.width.value = p.width;
      el.height.value = p.height;
      const key = p.width + 'x' + p.height;
      el.preset.value = [...el.preset.options].some((o) => o.value === key) ? key : 'custom';
    }
    if (p.steps != null) el.steps.value = p.steps;
    if (p.guidance != null) el.guidance.value = p.guidance;
    if (p.seed != null) {
      el.seed.value = p.seed;
      el.seedAuto.checked = false;
    }
    if (p.count != null) el.count.value = p.count;
    if (p.model && [...el.model.options].some((o) => o.value === p.model)) el.model.value = p.model;
    updateModelState();
    syncSizeInputs();
  }

  function syncSizeInputs() {
    const custom = el.preset.value === 'custom';
    if (!custom) {
      const [w, h] = el.preset.value.split('x');
      el.width.value = w;
      el.height.value = h;
    }
    el.width.readOnly = el.height.readOnly = !custom;
  }

  function randomSeed() {
    return crypto.getRandomValues(new Uint32Array(1))[0];
  }

  // ---------------------------------------------------------------- status display

  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = false;
  }

  function clearError() {
    el.error.hidden = true;
    el.error.textContent = '';
  }

  function setProgress(fraction, text, state) {
    const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    el.progressBlock.hidden = false;
    el.progressBlock.classList.toggle('done', state === 'done');
    el.progressBlock.classList.toggle('failed', state === 'failed');
    el.progressFill.style.width = pct + '%';
    el.progress.setAttribute('aria-valuenow', String(pct));
    el.progressPct.textContent = pct + ' %';
    el.progressText.textContent = text;
  }

  function setRunning(running) {
    el.generate.disabled = running;
    el.cancel.disabled = !running;
    el.generate.textContent = running ? 'Generating…' : 'Generate';
  }

  // ---------------------------------------------------------------- generation

  async function generate() {
    if (current) return;
    clearError();
    clearInvalid();
    const read = readForm();
    if (read.message) {
      markInvalid(read.field);
      showError(read.message);
      return;
    }
    const request = read.request;
    const job = { id: null, request, started: performance.now(), abort: new AbortController(), finished: false,
      cancelRequested: false };
    current = job;
    setRunning(true);
    setProgress(0, 'Submitting…');
    try {
      const accepted = await apiJson('/v1/generate?async=true', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request),
        what: 'model', signal: job.abort.signal,
      });
      job.id = accepted.id;
      if (!job.id) throw new ApiError('The server accepted the request but returned no job id.', 202);
      el.progressBlock.dataset.job = job.id;
      if (job.cancelRequested) await sendCancel(job);
      setProgress(0, 'Queued…');
      await followEvents(job);
    } catch (e) {
      if (job.finished) return;
      if (e.name === 'AbortError') return;
      fail(job, e);
    }
  }

  /** Reads the job's SSE stream; falls back to polling if the stream is unavailable or ends early. */
  async function followEvents(job) {
    let res = null;
    try {
      res = await api('/v1/jobs/' + encodeURIComponent(job.id) + '/events', {
        headers: { Accept: 'text/event-stream' }, signal: job.abort.signal, what: 'job',
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      res = null; // no stream: poll instead
    }
    if (res && res.body) {
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (job.finished || e.name === 'AbortError') return;
          break; // connection dropped: poll for the outcome
        }
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, '\n');
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const ev = parseSseBlock(block);
          if (ev) await onEvent(job, ev.type, ev.data);
          if (job.finished) {
            reader.cancel().catch(() => {});
            return;
          }
        }
      }
    }
    if (!job.finished) await pollJob(job);
  }

  function parseSseBlock(block) {
    let type = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const key = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (key === 'event') type = value;
      else if (key === 'data') data.push(value);
    }
    if (!data.length) return null;
    let payload;
    try { payload = JSON.parse(data.join('\n')); } catch (_) { payload = { error: data.join('\n') }; }
    return { type, data: payload || {} };
  }

  /** One job event: queued (position), started, step (image, step, steps, images), done (the job), failed, cancelled. */
  async function onEvent(job, type, d) {
    switch (type) {
      case 'queued':
        // position 1 = the next job to run once the running one finishes
        setProgress(0, 'Waiting in queue: ' + (d.position > 1 ? (d.position - 1) + ' job' + (d.position === 2 ? '' : 's') +
          ' ahead' : 'next in line'));
        break;
      case 'started':
        setProgress(0, 'Starting (loading the model if it is not loaded)…');
        break;
      case 'step': {
        const steps = d.steps || job.request.steps;
        const count = d.images || job.request.count;
        // denoising fills the bar to 95 %; the rest is decoding and saving, which send no events
        const last = d.image === count - 1 && d.step === steps;
        setProgress(0.95 * (d.image * steps + d.step) / (count * steps), (count > 1 ? 'Image ' + (d.image + 1) + ' of ' +
          count + ', ' : '') + 'step ' + d.step + ' of ' + steps + (last ? ', decoding…' : ''));
        break;
      }
      case 'done':
        finish(job, imagesOf(d).length ? d : await apiJson('/v1/jobs/' + encodeURIComponent(job.id), { what: 'job' }));
        break;
      case 'cancelled':
        cancelled(job);
        break;
      case 'failed':
        fail(job, new ApiError(describeJobError(d), 500));
        break;
      default:
        break; // event types added later are ignored
    }
  }

  function describeJobError(d) {
    const msg = errorMessage(d) || 'no reason given';
    if (/memory/i.test(msg)) return 'The server ran out of memory generating this image: ' + msg +
      '. Try a smaller size or fewer images.';
    return 'Generation failed on the server: ' + msg;
  }

  const RECONNECT_SECONDS = 180;

  /**
   * Polls GET /v1/jobs/{id} until the job ends (used when the event stream is unavailable or broke).
   * While the server is unreachable or restarting (a supervised server finishes journaled jobs after a
   * crash) it keeps trying for RECONNECT_SECONDS before giving up.
   */
  async function pollJob(job) {
    let lostSince = null;
    while (!job.finished) {
      let j;
      try {
        j = await apiJson('/v1/jobs/' + encodeURIComponent(job.id), { what: 'job', signal: job.abort.signal });
        lostSince = null;
      } catch (e) {
        const transient = e.status === 0 || e.status === 502 || e.status === 503 || e.status === 504;
        if (!transient) throw e;
        lostSince = lostSince || performance.now();
        if (performance.now() - lostSince > RECONNECT_SECONDS * 1000)
          throw new ApiError(e.message + ' (gave up waiting for job ' + job.id + ' after ' + RECONNECT_SECONDS + ' s)', e.status);
        el.progressText.textContent = 'Lost the connection to the server; retrying…';
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (j.status === 'done') return finish(job, j);
      if (j.status === 'cancelled') return cancelled(job);
      if (j.status === 'failed') return fail(job, new ApiError(describeJobError(j), 500));
      if (j.status === 'queued') await onEvent(job, 'queued', { position: j.queue_position });
      if (j.status === 'running' && j.progress) await onEvent(job, 'step', j.progress);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  function end(job) {
    job.finished = true;
    job.abort.abort();
    if (current === job) current = null;
    setRunning(false);
  }

  function finish(job, result) {
    if (job.finished) return;
    end(job);
    const seconds = (performance.now() - job.started) / 1000;
    setProgress(1, 'Done in ' + seconds.toFixed(1) + ' s', 'done');
    showResult(job.request, result, seconds);
    refreshGallery();
    refreshModels();
  }

  function cancelled(job) {
    if (job.finished) return;
    end(job);
    setProgress(Number(el.progress.getAttribute('aria-valuenow')) / 100, 'Cancelled', 'failed');
  }

  function fail(job, e) {
    if (job.finished) return;
    end(job);
    setProgress(Number(el.progress.getAttribute('aria-valuenow')) / 100, 'Failed', 'failed');
    if (e.field) markInvalid(e.field);
    showError(e instanceof ApiError ? e.message : 'Something went wrong in the page: ' + e.message);
  }

  async function cancel() {
    const job = current;
    if (!job) return;
    el.cancel.disabled = true;
    el.progressText.textContent = 'Cancelling…';
    job.cancelRequested = true;
    if (job.id) await sendCancel(job);
  }

  async function sendCancel(job) {
    try {
      await api('/v1/jobs/' + encodeURIComponent(job.id), { method: 'DELETE', what: 'job' });
    } catch (e) {
      if (job.finished) return;
      if (e.status === 404 || e.status === 409) return; // it ended meanwhile; the stream says how
      fail(job, new ApiError('Could not cancel: ' + e.message, e.status));
    }
    // the event stream (or the polling that replaces it) reports the cancellation
  }

  // ---------------------------------------------------------------- results

  /** The images of a finished job: [{name, url, seed, width, height}]. */
  function imagesOf(result) {
    return (result.images || []).filter((img) => img.url);
  }

  function addParam(dl, key, value) {
    if (value == null || value === '') return;
    const dt = document.createElement('dt');
    dt.textContent = key;
    const dd = document.createElement('dd');
    dd.textContent = value;
    dl.append(dt, dd);
  }

  function fillParams(dl, p, extra) {
    dl.replaceChildren();
    addParam(dl, 'Prompt', p.prompt);
    addParam(dl, 'Negative', p.negative_prompt);
    addParam(dl, 'Size', p.width && p.height ? p.width + ' × ' + p.height : null);
    addParam(dl, 'Steps', p.steps);
    addParam(dl, 'Guidance', p.guidance);
    addParam(dl, 'Seed', p.seed);
    addParam(dl, 'Model', p.model);
    for (const [k, v] of Object.entries(extra || {})) addParam(dl, k, v);
  }

  function showResult(request, result, seconds) {
    const images = imagesOf(result);
    if (!images.length) {
      showError('The job finished but the server returned no image.');
      return;
    }
    el.placeholder.hidden = true;
    el.result.hidden = false;
    el.resultImages.replaceChildren(...images.map((img, i) => {
      const fig = document.createElement('figure');
      const image = document.createElement('img');
      image.alt = request.prompt;
      image.className = 'result-image';
      image.addEventListener('error', () => showError('The image ' + img.name + ' could not be loaded from the server.'));
      setImageSource(image, img.url);
      const cap = document.createElement('figcaption');
      const seed = document.createElement('span');
      seed.textContent = 'seed ' + (img.seed != null ? img.seed : request.seed + i);
      const a = document.createElement('a');
      a.textContent = 'Download';
      a.className = 'download';
      setImageSource(a, img.url);
      a.download = img.name;
      cap.append(seed, a);
      fig.append(image, cap);
      return fig;
    }));
    // timings_ms: wall time per stage on the server ("text", "step 1"…"step N", "denoise", "vae", "png");
    // the steps are part of "denoise", so only the stages are added up
    const stages = Object.entries(result.timings_ms || {}).filter(([k, v]) => typeof v === 'number' && !/^step \d+$/.test(k));
    const extra = { Latency: seconds.toFixed(2) + ' s (submit to image, in the browser)' };
    if (stages.length) {
      const total = stages.reduce((a, [, v]) => a + v, 0);
      extra['Server time'] = (total / 1000).toFixed(2) + ' s (' +
        stages.map(([k, v]) => k + ' ' + (v / 1000).toFixed(2) + ' s').join(', ') + ')';
    }
    const model = result.model || request.model;
    fillParams(el.resultParams, Object.assign({}, request, { model }), extra);
  }

  /** Sets src/href; with an access token images are fetched with it and shown from a blob URL. */
  function setImageSource(node, url) {
    const attr = node.tagName === 'A' ? 'href' : 'src';
    if (!localStorage.getItem(TOKEN_KEY) || url.startsWith('data:')) {
      node[attr] = url;
      return;
    }
    api(url).then((r) => r.blob()).then((b) => { node[attr] = URL.createObjectURL(b); })
      .catch((e) => showError(e.message));
  }

  // ---------------------------------------------------------------- gallery

  async function refreshGallery() {
    let list;
    try {
      list = (await apiJson('/v1/images?limit=48')).data || [];
    } catch (e) {
      el.galleryEmpty.hidden = false;
      el.galleryEmpty.textContent = 'Recent images are unavailable: ' + e.message;
      return;
    }
    el.galleryEmpty.hidden = list.length > 0;
    el.galleryEmpty.textContent = 'No images yet.';
    el.gallery.replaceChildren(...list.map((item) => {
      const url = item.url;
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'gallery-item';
      b.title = item.prompt || item.name;
      const img = document.createElement('img');
      img.loading = 'lazy';
      img.alt = item.prompt || item.name;
      setImageSource(img, url);
      b.append(img);
      b.addEventListener('click', () => openViewer(item, url));
      return b;
    }));
  }

  function openViewer(item, url) {
    setImageSource(el.viewerImg, url);
    el.viewerImg.alt = item.prompt || item.name;
    setImageSource(el.viewerDownload, url);
    el.viewerDownload.download = item.name || 'zimage.png';
    const extra = {};
    if (item.created) extra.Created = new Date(item.created).toLocaleString();
    fillParams(el.viewerParams, item, extra);
    el.viewerReuse.hidden = item.prompt == null;   // an image whose job the server no longer remembers
    el.viewerReuse.onclick = () => {
      applyParams(Object.assign({}, item, { count: 1 }));
      el.viewer.close();
      el.prompt.focus();
    };
    el.viewer.showModal();
  }

  // ---------------------------------------------------------------- models and readiness

  async function refreshModels() {
    let body;
    try {
      body = await apiJson('/v1/models');
    } catch (e) {
      el.modelState.textContent = 'Model list unavailable: ' + e.message;
      return;
    }
    models = body.data || [];
    const previous = el.model.value;
    el.model.replaceChildren(...models.map((m) => {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = m.id + ' — ' + modelStateWords(m);
      return o;
    }));
    if (!models.length) {
      const o = document.createElement('option');
      o.value = '';
      o.textContent = '(no models configured)';
      el.model.append(o);
    }
    const preferred = models.find((m) => m.id === previous) || models.find((m) => m.default) ||
      models.find((m) => m.warm) || models.find((m) => m.loaded) || models[0];
    if (preferred) el.model.value = preferred.id;
    updateModelState();
  }

  // GET /v1/models: {data: [{id, default, loaded, warm, in_use, …}]}; warm = loaded and has run a generation.
  function modelStateWords(m) {
    if (m.warm) return 'loaded, warm';
    if (m.loaded) return 'loaded';
    return 'not loaded';
  }

  function updateModelState() {
    const m = models.find((x) => x.id === el.model.value);
    if (!m) {
      el.modelState.textContent = '';
      el.modelLoad.hidden = true;
      return;
    }
    el.modelLoad.hidden = !!m.loaded;
    el.modelState.textContent = m.warm ? 'Loaded and warm: images start right away.' :
      m.loaded ? 'Loaded; the first image also warms it up (a little slower).' :
        'Not loaded yet: the first image loads it, which takes a while (or press Load now).';
  }

  async function loadModel() {
    const id = el.model.value;
    if (!id) return;
    el.modelLoad.disabled = true;
    el.modelState.textContent = 'Loading ' + id + '…';
    try {
      await api('/v1/models/' + encodeURIComponent(id) + '/load', { method: 'POST', what: 'model' });
    } catch (e) {
      showError('Could not load the model: ' + e.message);
    } finally {
      el.modelLoad.disabled = false;
      refreshModels();
    }
  }

  let readyTimer = null;

  async function checkReady() {
    clearTimeout(readyTimer);
    let state = 'down';
    let text = 'server unreachable';
    try {
      const res = await fetch('/readyz', { cache: 'no-store' });
      if (res.ok) {
        state = 'ready';
        text = 'ready';
      } else if (res.status === 503) {
        state = 'warming';
        text = 'warming up…';
      } else {
        text = 'server answered ' + res.status;
      }
    } catch (_) { /* unreachable */ }
    const was = el.serverState.dataset.state;
    el.serverState.dataset.state = state;
    el.serverState.className = 'server-state ' + state;
    el.serverStateText.textContent = text;
    if (was && was !== state && state === 'ready') refreshModels();   // warmed up meanwhile: models changed
    readyTimer = setTimeout(checkReady, state === 'ready' ? 15000 : 2000);
  }

  let askingToken = false;

  /** A 401: forget the token that failed and ask for one (once, however many requests were refused). */
  function tokenRejected() {
    if (askingToken) return;
    askingToken = true;
    localStorage.removeItem(TOKEN_KEY);
    setTimeout(() => {
      const t = prompt('This zimage4j server requires an access token (the token it was started with):');
      askingToken = false;
      if (!t || !t.trim()) return;
      localStorage.setItem(TOKEN_KEY, t.trim());
      clearError();
      refreshModels();
      refreshGallery();
    }, 0);
  }

  // ---------------------------------------------------------------- wiring

  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    generate();
  });
  el.form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      generate();
    }
  });
  el.cancel.addEventListener('click', cancel);
  el.preset.addEventListener('change', syncSizeInputs);
  for (const input of Object.values(numberFields()).concat([el.prompt]))
    input.addEventListener('input', () => input.classList.remove('invalid'));
  el.seedRandom.addEventListener('click', () => {
    el.seed.value = randomSeed();
    el.seed.classList.remove('invalid');
  });
  el.model.addEventListener('change', () => {
    el.model.classList.remove('invalid');
    updateModelState();
  });
  el.modelLoad.addEventListener('click', loadModel);
  el.galleryRefresh.addEventListener('click', refreshGallery);
  el.viewer.addEventListener('click', (e) => {
    if (e.target === el.viewer) el.viewer.close();
  });
  // Closing or leaving the page cancels its running job, as a disconnecting synchronous client would.
  window.addEventListener('pagehide', () => {
    if (current && current.id)
      fetch('/v1/jobs/' + encodeURIComponent(current.id), { method: 'DELETE', keepalive: true, headers: authHeaders() });
  });

  syncSizeInputs();
  checkReady();
  refreshModels();
  refreshGallery();
})();
