// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What the browser tests share: finding playwright-core and Chromium, child
// processes that are always killed, the real server on a free port, bounded
// waits, and a headless Chromium with fake media devices.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncLocalStorage } from 'node:async_hooks';

export const CHROMIUM = process.env.RTCSTREAM_CHROMIUM || '/usr/bin/chromium';
const SERVER = process.env.RTCSTREAM_SIGNALLING;
export const OUT = process.env.RTCSTREAM_TEST_OUT
  ? `${process.env.RTCSTREAM_TEST_OUT.replace(/\/$/, '')}/` : new URL('./out/', import.meta.url).pathname;
export const STEP_MS = 20000;      // the longest one step may take
// A whole test file (the doc-test runner sets a longer one).
const WATCHDOG_MS = Number(process.env.RTCSTREAM_TEST_WATCHDOG_MS) || 85000;
// How long any process we start may take to exit once told to (SIGINT,
// SIGTERM): longer is a hang, a failure.
export const STOP_BOUND_MS = 10000;

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
// The children started within scoped (fn).
const scope = new AsyncLocalStorage();
const running = (c) => c.exitCode === null && c.signalCode === null;
// Sends sig to the child, or to its whole process group when it has one.
function signal (c, sig) {
  try {
    if (c.group) process.kill(-c.pid, sig);
    else c.kill(sig);
  } catch { /* already gone */ }
}
function groupAlive (c) {
  try { process.kill(-c.pid, 0); return true; } catch { return false; }
}
function killAll () {
  for (const c of children) if (running(c) || (c.group && groupAlive(c))) signal(c, 'SIGKILL');
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
// options.group: the child leads a process group of its own, and signals go
// to the whole group, as a terminal's Ctrl-C does (for shell lines and
// scripts that start several processes). options.cwd: its directory.
// options.stdin 'pipe': its stdin stays open (and empty) as a terminal's
// would, for programs that end when their input closes.
export function run (logName, cmd, args, env = {}, onStdout = null, { group = false, cwd, stdin = 'ignore' } = {}) {
  mkdirSync(OUT, { recursive: true });
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'], detached: group, cwd,
  });
  scope.getStore()?.add(child);
  child.group = group;
  child.name = logName;
  child.logFile = join(OUT, `${logName}.log`);
  child.log = '';
  writeFileSync(child.logFile, '');   // now, not when the stream opens: never an earlier run's
  const file = createWriteStream(child.logFile, { flags: 'a' });
  child.file = file;
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
  child.on('error', (err) => keep(`\n${cmd}: ${err.message}\n`));
  children.add(child);
  return child;
}

// The processes of the child's group (or the child alone): [{ pid, comm }].
function processesOf (c) {
  if (!c.group) return running(c) ? [{ pid: c.pid, comm: '' }] : [];
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === c.pid && state !== 'Z') out.push({ pid: Number(d), comm });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

// The stacks of every thread of the child (and of its group), from gdb, also
// appended to its log file.
export function stacksOf (c) {
  let text = '';
  for (const { pid, comm } of processesOf(c).slice(0, 6)) {
    const r = spawnSync('gdb', ['-batch', '-nx', '-p', String(pid), '-ex', 'thread apply all bt'], {
      encoding: 'utf8', timeout: 30000,
    });
    const bt = (r.stdout || '').split('\n').filter((l) => /^(Thread|#\d)/.test(l)).join('\n');
    text += `--- stacks of ${pid} ${comm} ---\n${bt || r.error?.message || r.stderr}\n`;
  }
  try { appendFileSync(c.logFile, `\n${text}`); } catch { /* no log file */ }
  return text;
}

// Waits at most ms for the child to exit by itself. A child that does not is
// a hang: its stacks go into the error (and its log), then it is stopped as
// stop () does. Resolves with its exit code (or signal name).
export async function exitsWithin (child, ms, what = 'exit by itself') {
  const done = await Promise.race([child.exited.then(() => true), sleep(ms, false, { ref: false })]);
  if (!done) {
    const stacks = stacksOf(child);
    await stop(child, 'SIGINT').catch(() => {});
    throw new Error(`${child.name} did not ${what} within ${ms / 1000} s: it hangs. `
      + `Its stacks (also in ${child.logFile}):\n${stacks}\n--- its output ---\n${child.log}`);
  }
  await settle(child);
  return child.exitCode ?? child.signalCode;
}

// After a group's leader exited, the rest of its group must follow soon.
async function settle (child) {
  const end = Date.now() + 3000;
  while (child.group && groupAlive(child) && Date.now() < end) await sleep(50);
  if (child.group && groupAlive(child)) {
    const left = processesOf(child);
    const stacks = stacksOf(child);
    signal(child, 'SIGKILL');
    children.delete(child);
    throw new Error(`${child.name} exited but left ${left.map((p) => `${p.pid} ${p.comm}`).join(', ')} `
      + `running for 3 s after it:\n${stacks}`);
  }
  children.delete(child);
}

// Stops a child with `signal` (its group, for a group leader). Every process
// must exit within STOP_BOUND_MS of SIGINT or SIGTERM: one that does not is a
// hang, and this rejects with its stacks (from gdb) after killing it.
// SIGKILL is for tests that kill on purpose.
export async function stop (child, sig = 'SIGTERM') {
  if (!running(child)) {
    await child.exited;
    await settle(child);
    return;
  }
  signal(child, sig);
  if (sig === 'SIGKILL') {
    await child.exited;
    children.delete(child);
    return;
  }
  const done = await Promise.race([child.exited.then(() => true), sleep(STOP_BOUND_MS, false, { ref: false })]);
  if (!done) {
    const stacks = stacksOf(child);
    signal(child, 'SIGKILL');
    await child.exited;
    children.delete(child);
    throw new Error(`${child.name} did not exit within ${STOP_BOUND_MS / 1000} s of ${sig}: it hangs. `
      + `Its stacks (also in ${child.logFile}):\n${stacks}\n--- its output ---\n${child.log}`);
  }
  await settle(child);
}

// Runs fn; the processes it started and left running are stopped (SIGINT,
// bounded, then killed) when it ends, failed or not. Their hangs are only
// reported when fn itself succeeded.
export async function scoped (fn) {
  const mine = new Set();
  let failed = true;
  try {
    const r = await scope.run(mine, fn);
    failed = false;
    return r;
  } finally {
    const left = [...mine].filter((c) => running(c) || (c.group && groupAlive(c)));
    const stops = await Promise.allSettled(left.map((c) => stop(c, 'SIGINT')));
    const hung = stops.filter((r) => r.status === 'rejected');
    if (!failed && hung.length) throw hung[0].reason;
  }
}

// The real rtcstream-signalling on a free port; resolves to { server, port }.
export function startServer (logName, extraArgs = []) {
  mkdirSync(OUT, { recursive: true });
  const server = run(logName, SERVER, ['--port', '0', ...extraArgs]);
  return new Promise((resolve, reject) => {
    // Its start is not what the tests measure: the first GStreamer start of a
    // run may rebuild the registry, which on a busy machine took over 5 s.
    const timer = setTimeout(() => reject(new Error(`no port from the server: ${server.log}`)), STEP_MS);
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
    // Starting Chromium is not what the tests measure: on a busy 2-core
    // machine it has taken over 20 s (STEP_MS).
    timeout: 3 * STEP_MS,
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
  mkdirSync(OUT, { recursive: true });  // (a bench's viewer may be the first to write there)
  writeFileSync(join(OUT, `${logName}.log`), ctx.logs.join('\n') + '\n');
  if (ctx.browser) await ctx.browser.close().catch(() => {});
}

export function removeProfile (ctx) {
  // Chromium's last helper processes may still write into it as it goes.
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

// gst-launch-1.0 -v watching `name` with rtcstreamsrc (extra element properties
// in `props`): its fakesinks v and a print one last-message line per buffer,
// counted in child.counts; child.caps is v's raw caps line and child.rtpCodec
// the encoding-name of the video RTP caps, once seen. Debug output goes to
// out/LOGNAME-debug.log.
// audio false: no audio branch, for a producer without audio (a branch for a
// pad that never comes keeps its sink, and so the pipeline, from playing).
export function watchStream (port, name, { props = '', logName = 'consumer', debug, audio = true } = {}) {
  const pipeline = `rtcstreamsrc name=s ${props} uri=rtcstream://127.0.0.1:${port}/${name} `
    + 's.video_0 ! queue ! videoconvert ! video/x-raw,format=I420 ! fakesink name=v silent=false '
    + (audio ? 's.audio_0 ! queue ! fakesink name=a silent=false' : '');
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
  const withLogs = withDiagnostics(ctx, () => [['pipeline', ctx.consumer]], extraNote);
  return { ctx, withLogs };
}

// withLogs (step) for a test file: runs a step and adds to its failure the
// page console (ctx.logs), the server's output (ctx.server) and that of each
// [title, child] that children () lists.
export function withDiagnostics (ctx, children = () => [], extraNote = '') {
  const diagnostics = () => [
    `(full logs in ${OUT}${extraNote})`,
    '--- page console ---', ...ctx.logs.slice(-40),
    '--- server ---', ctx.server?.log ?? '',
    ...children().flatMap(([title, child]) => [`--- ${title} ---`, child?.log ?? '']),
  ].join('\n');
  return async (step) => {
    try {
      return await step();
    } catch (err) {
      err.message += `\n${diagnostics()}`;
      throw err;
    }
  };
}

// In the page: a plain WHEP player (its own RTCPeerConnection and fetch, as
// WHEP players build them) with a recvonly transceiver per kind, in order,
// POSTs its offer (once ICE gathering is complete) to url and applies a 201
// answer. Its <video> and connection stay as window.whepVideo and
// window.whepPc. Resolves to { status, offer, answer } (SDP texts).
export function playWhep (page, url, kinds = ['video']) {
  return page.evaluate(async ({ whep, media }) => {
    const pc = new RTCPeerConnection();
    for (const kind of media) pc.addTransceiver(kind, { direction: 'recvonly' });
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    document.body.append(video);
    pc.ontrack = (e) => { if (e.track.kind === 'video') video.srcObject = new MediaStream([e.track]); };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((done) => {
      if (pc.iceGatheringState === 'complete') done();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') done(); };
    });
    const reply = await fetch(whep, { method: 'POST', headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription.sdp });
    const answer = await reply.text();
    if (reply.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    window.whepVideo = video;
    window.whepPc = pc;
    return { status: reply.status, offer: pc.localDescription.sdp, answer };
  }, { whep: url, media: kinds });
}
