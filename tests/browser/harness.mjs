// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What the browser tests share: finding playwright-core and Chromium, child
// processes that are always killed, the real server on a free port, bounded
// waits, and a headless Chromium with fake media devices.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

export const CHROMIUM = process.env.RTCSTREAM_CHROMIUM || '/usr/bin/chromium';
const SERVER = process.env.RTCSTREAM_SIGNALLING;
export const OUT = new URL('./out/', import.meta.url).pathname;
export const STEP_MS = 20000;      // the longest one step may take
const WATCHDOG_MS = 85000;         // a whole test file

let chromium = null;
try {
  ({ chromium } = createRequire(import.meta.url)('playwright-core'));
} catch { /* reported through `missing` */ }
// Why the tests cannot run here, or null.
export const missing = !SERVER ? 'RTCSTREAM_SIGNALLING is not set (run through meson test)'
  : !chromium ? 'playwright-core is not installed: run npm ci --prefix tests/browser'
  : !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: apt-get install chromium`
  : null;

// Every child process, killed however the test file ends.
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
// all of it in out/LOGNAME.log; `onStdout`, if given, sees stdout line by line.
export function run (logName, cmd, args, env = {}, onStdout = null) {
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

export async function stop (child, signal = 'SIGTERM') {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await child.exited;
  clearTimeout(timer);
  children.delete(child);
}

// The real rtcstream-signalling on a free port; resolves to { server, port }.
export function startServer (logName, extraArgs = []) {
  mkdirSync(OUT, { recursive: true });
  const server = run(logName, SERVER, ['--port', '0', ...extraArgs]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no port from the server: ${server.log}`)), 5000);
    server.stdout.on('data', () => {
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)\/ws/.exec(server.log);
      if (m) { clearTimeout(timer); resolve({ server, port: Number(m[1]) }); }
    });
    server.on('exit', (code) => reject(new Error(`server exited (${code}): ${server.log}`)));
  });
}

// Polls `check` (async, returns a value or a falsy one) until it holds.
export async function waitFor (what, check, timeoutMs = STEP_MS) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await check();
    if (last && last.ok !== false) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

// Headless Chromium with a fresh profile and fake camera/microphone; sets
// ctx.profile, ctx.browser, ctx.page and collects the page console in ctx.logs.
// fakeMedia false leaves the media flags out: such a browser hides its host
// addresses behind mDNS names, as one does for pages without camera permission.
export async function launchBrowser (ctx, { fakeMedia = true } = {}) {
  ctx.profile = mkdtempSync(join(tmpdir(), 'rtcstream-chromium-'));
  ctx.browser = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    viewport: { width: 1000, height: 700 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(fakeMedia ? ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'] : [])],
  });
  ctx.page = ctx.browser.pages()[0] ?? await ctx.browser.newPage();
  ctx.page.setDefaultTimeout(STEP_MS);
  ctx.page.on('console', (m) => ctx.logs.push(`${m.type()}: ${m.text()}`));
  ctx.page.on('pageerror', (e) => ctx.logs.push(`pageerror: ${e.message}`));
}

// Saves the page console to out/LOGNAME.log and closes the browser.
export async function closeBrowser (ctx, logName) {
  writeFileSync(join(OUT, `${logName}.log`), ctx.logs.join('\n') + '\n');
  if (ctx.browser) await ctx.browser.close().catch(() => {});
}

export function removeProfile (ctx) {
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
}

// gst-launch-1.0 -v watching `name` with rtcstreamsrc (extra element properties
// in `props`): its fakesinks v and a print one last-message line per buffer,
// counted in child.counts; child.caps is v's raw caps line and child.rtpCodec
// the encoding-name of the video RTP caps, once seen. Debug output goes to
// out/LOGNAME-debug.log.
export function watchStream (port, name, { props = '', logName = 'consumer', debug } = {}) {
  const pipeline = `rtcstreamsrc name=s ${props} uri=rtcstream://127.0.0.1:${port}/${name} `
    + 's.video_0 ! queue ! videoconvert ! video/x-raw,format=I420 ! fakesink name=v silent=false '
    + 's.audio_0 ! queue ! fakesink name=a silent=false';
  const counts = { v: 0, a: 0 };
  const child = run(logName, 'gst-launch-1.0', ['-v', ...pipeline.split(/\s+/).filter(Boolean)], {
    GST_DEBUG: process.env.GST_DEBUG || debug || 'rtcstreamsrc:5,rtcstream-session:5,webrtcbin:4',
    GST_DEBUG_FILE: join(OUT, `${logName}-debug.log`),
  }, (line) => {
    const m = /GstFakeSink:([va]): last-message = chain/.exec(line);
    if (m) counts[m[1]]++;
    // The video caps, from whichever gst-launch prints first: the sink pad's
    // caps notify or fakesink's report of the caps event (either alone was
    // once seen missing from a run whose fakesink still counted 582 buffers).
    else if (!child.caps && /GstFakeSink:v(\.GstPad:sink: caps = |: last-message = event .*caps=\(GstCaps\)")video\/x-raw/.test(line)) {
      child.caps = line.replace(/\\/g, '');
    }
    const rtp = /caps = application\/x-rtp, media=\(string\)video.*encoding-name=\(string\)([A-Z0-9]+)/.exec(line);
    if (rtp) child.rtpCodec = rtp[1];
  });
  child.counts = counts;
  child.caps = null;
  child.rtpCodec = null;
  return child;
}

// The set-up shared by the test files where a page publishes and a pipeline
// (ctx.consumer) watches: the server and the browser start before the tests;
// after them everything stops and the server must exit cleanly on SIGTERM.
// withLogs (step) runs a step and adds the page console and the server's and
// pipeline's output to its failure. `name` prefixes the log files.
export function publishingPageSuite (name, extraNote = '') {
  const ctx = { logs: [] };
  before(async () => {
    if (missing) return;
    ({ server: ctx.server, port: ctx.port } = await startServer(`${name}-server`));
    await launchBrowser(ctx);
  });
  after(async () => {
    if (!missing) await closeBrowser(ctx, `${name}-page-console`);
    if (ctx.consumer) await stop(ctx.consumer, 'SIGINT');
    if (ctx.server) {
      await stop(ctx.server);
      assert.equal(ctx.server.exitCode, 0, `the server exits cleanly on SIGTERM: ${ctx.server.log}`);
    }
    removeProfile(ctx);
  });
  const diagnostics = () => [
    `(full logs in ${OUT}${extraNote})`,
    '--- page console ---', ...ctx.logs.slice(-40),
    '--- server ---', ctx.server?.log ?? '',
    '--- pipeline ---', ctx.consumer?.log ?? '',
  ].join('\n');
  const withLogs = async (step) => {
    try {
      return await step();
    } catch (err) {
      err.message += `\n${diagnostics()}`;
      throw err;
    }
  };
  return { ctx, withLogs };
}
