// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A real headless Chromium publishes its (fake) camera and microphone from the
// server's publish.html page; a real gst-launch-1.0 pipeline watches it with
// rtcstreamsrc, through the real rtcstream-signalling server. Run by `meson test`
// (suite "browser"), which sets RTCSTREAM_SIGNALLING and GST_PLUGIN_PATH; or by hand:
//   RTCSTREAM_SIGNALLING=build/signalling/rtcstream-signalling \
//   GST_PLUGIN_PATH=build/plugins node --test tests/browser/publish.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const CHROMIUM = process.env.RTCSTREAM_CHROMIUM || '/usr/bin/chromium';
const SERVER = process.env.RTCSTREAM_SIGNALLING;
const OUT = new URL('./out/', import.meta.url).pathname;
const STEP_MS = 20000;      // the longest one step may take
const MEDIA_MS = 30000;     // for the pipeline to receive its buffers
const WATCHDOG_MS = 85000;  // the whole file

let chromium = null;
try {
  ({ chromium } = createRequire(import.meta.url)('playwright-core'));
} catch { /* reported by the skip below */ }
const missing = !SERVER ? 'RTCSTREAM_SIGNALLING is not set (run through meson test)'
  : !chromium ? 'playwright-core is not installed: run npm ci --prefix tests/browser'
  : !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: apt-get install chromium`
  : null;

// Every child process, killed however this file ends.
const children = new Set();
function killAll () {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(1); });
setTimeout(() => {
  console.error(`# watchdog: still running after ${WATCHDOG_MS} ms, giving up`);
  killAll();
  process.exit(1);
}, WATCHDOG_MS).unref();

// Starts a program, keeping the end of its output for failure messages and
// all of it in out/LOGNAME.log; `onStdout` sees stdout line by line.
function run (logName, cmd, args, env = {}, onStdout = null) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.log = '';
  const file = createWriteStream(join(OUT, `${logName}.log`));
  const keep = (d) => { child.log = (child.log + d).slice(-4000); file.write(d); };
  let partial = '';
  child.stdout.on('data', (d) => {
    keep(d);
    if (!onStdout) return;
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const l of lines) onStdout(l);
  });
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => child.on('exit', resolve));
  children.add(child);
  return child;
}

async function stop (child, signal = 'SIGTERM') {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await child.exited;
  clearTimeout(timer);
  children.delete(child);
}

function startServer () {
  const server = run('publish-server', SERVER, ['--port', '0']);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no port from the server: ${server.log}`)), 5000);
    server.stdout.on('data', () => {
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)\/ws/.exec(server.log);
      if (m) { clearTimeout(timer); resolve({ server, port: Number(m[1]) }); }
    });
    server.on('exit', (code) => reject(new Error(`server exited (${code}): ${server.log}`)));
  });
}

// gst-launch-1.0 -v watching `name`: fakesinks v and a print one last-message
// line per buffer, counted in consumer.counts; the caps of v in consumer.caps.
function startConsumer (port, name) {
  const pipeline = `rtcstreamsrc name=s uri=rtcstream://127.0.0.1:${port}/${name} `
    + 's.video_0 ! queue ! videoconvert ! video/x-raw,format=I420 ! fakesink name=v silent=false '
    + 's.audio_0 ! queue ! fakesink name=a silent=false';
  const counts = { v: 0, a: 0 };
  const debug = process.env.GST_DEBUG || 'rtcstreamsrc:5,rtcstream-session:5,webrtcbin:4';
  const child = run('publish-consumer', 'gst-launch-1.0', ['-v', ...pipeline.split(/\s+/)],
    { GST_DEBUG: debug, GST_DEBUG_FILE: join(OUT, 'publish-consumer-debug.log') }, (line) => {
      const m = /GstFakeSink:([va]): last-message = chain/.exec(line);
      if (m) counts[m[1]]++;
      else if (/GstFakeSink:v\.GstPad:sink: caps = video\/x-raw/.test(line)) child.caps = line;
    });
  child.counts = counts;
  child.caps = null;
  return child;
}

// Polls `check` (async, returns a value or a falsy one) until it holds.
async function waitFor (what, check, timeoutMs = STEP_MS) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await check();
    if (last && last.ok !== false) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

const ctx = { logs: [] };
const pageStatus = () => ctx.page.textContent('#status');

function diagnostics () {
  return [
    `(full logs in ${OUT}, GStreamer debug in publish-consumer-debug.log)`,
    '--- page console ---', ...ctx.logs.slice(-40),
    '--- server ---', ctx.server?.log ?? '',
    '--- pipeline ---', ctx.consumer?.log ?? '',
  ].join('\n');
}

// Runs `step`, adding the logs to its failure.
async function withLogs (step) {
  try {
    return await step();
  } catch (err) {
    err.message += `\n${diagnostics()}`;
    throw err;
  }
}

before(async () => {
  if (missing) return;
  mkdirSync(OUT, { recursive: true });
  ({ server: ctx.server, port: ctx.port } = await startServer());
  ctx.profile = mkdtempSync(join(tmpdir(), 'rtcstream-chromium-'));
  ctx.browser = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    viewport: { width: 1000, height: 700 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
  ctx.page = ctx.browser.pages()[0] ?? await ctx.browser.newPage();
  ctx.page.setDefaultTimeout(STEP_MS);
  ctx.page.on('console', (m) => ctx.logs.push(`${m.type()}: ${m.text()}`));
  ctx.page.on('pageerror', (e) => ctx.logs.push(`pageerror: ${e.message}`));
});

after(async () => {
  if (!missing) writeFileSync(join(OUT, 'publish-page-console.log'), ctx.logs.join('\n') + '\n');
  if (ctx.consumer) await stop(ctx.consumer, 'SIGINT');
  if (ctx.browser) await ctx.browser.close().catch(() => {});
  if (ctx.server) {
    await stop(ctx.server);
    assert.equal(ctx.server.exitCode, 0, `the server exits cleanly on SIGTERM: ${ctx.server.log}`);
  }
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
});

test('the page publishes the camera under ?name=', { skip: missing ?? false, timeout: 30000 }, () =>
  withLogs(async () => {
    await ctx.page.goto(`http://127.0.0.1:${ctx.port}/publish.html?name=webcam`);
    assert.equal(await ctx.page.inputValue('#name'), 'webcam');
    await ctx.page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
    await ctx.page.click('#publish');
    await ctx.page.waitForFunction(() =>
      document.getElementById('status').textContent === 'publishing "webcam": 0 viewers');
    await ctx.page.waitForFunction(() => document.getElementById('preview').videoWidth > 0);
  }));

test('a second page cannot take the same name', { skip: missing ?? false, timeout: 30000 }, () =>
  withLogs(async () => {
    const page = await ctx.browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${ctx.port}/publish.html?name=webcam`);
      await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
      await page.click('#publish');
      await page.waitForFunction(() => /^error: .*taken/.test(document.getElementById('status').textContent));
      assert.equal(await page.isDisabled('#publish'), false);
    } finally {
      await page.close();
    }
  }));

test('rtcstreamsrc receives the video and audio', { skip: missing ?? false, timeout: 45000 }, () =>
  withLogs(async () => {
    ctx.consumer = startConsumer(ctx.port, 'webcam');
    const c = ctx.consumer;
    await waitFor('90 video buffers and audio in the pipeline', () => {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`the pipeline exited (${c.exitCode ?? c.signalCode})`);
      return { ...c.counts, caps: c.caps, ok: c.counts.v >= 90 && c.counts.a > 0 && !!c.caps };
    }, MEDIA_MS);
    assert.match(c.caps, /width=\(int\)[1-9]\d*/, 'the video caps have a width');
    await ctx.page.waitForFunction(() =>
      document.getElementById('status').textContent === 'publishing "webcam": 1 viewer');
    await ctx.page.screenshot({ path: join(OUT, 'publish.png') });
  }));

test('the page counts 0 viewers once the pipeline stops', { skip: missing ?? false, timeout: 30000 }, () =>
  withLogs(async () => {
    await stop(ctx.consumer, 'SIGINT');
    await ctx.page.waitForFunction(() =>
      document.getElementById('status').textContent === 'publishing "webcam": 0 viewers');
    assert.equal(await pageStatus(), 'publishing "webcam": 0 viewers');
  }));
