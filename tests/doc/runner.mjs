// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What the entries of commands.mjs use to run a documented line and check
// what the text around it says: the line as a shell runs it (in a process
// group of its own, like a terminal's), with host, port, build and file names
// substituted; what its sinks rendered (from basesink's LOG lines); a
// checking pipeline that watches a stream; gst-discoverer-1.0 on a recording;
// the real servers (rtcstream-signalling, coturn, Janus, the aiortc WHIP/WHEP
// endpoint) and an X display (Xvfb) for autovideosink; the browser through
// tests/browser/harness.mjs. Processes are started and stopped only through
// that harness's run () / stop () / exitsWithin (), which make a process that
// does not exit within a bound a failure, with its stacks.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  OUT, STEP_MS, missing as browserMissing, run, stop, exitsWithin, waitFor, watchStream,
  launchBrowser, closeBrowser, removeProfile,
} from '../browser/harness.mjs';

export { STEP_MS, waitFor, stop, exitsWithin, browserMissing };

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const BUILD = process.env.RTCSTREAM_BUILD_ROOT || join(ROOT, 'build');
export const SERVER = process.env.RTCSTREAM_SIGNALLING || join(BUILD, 'signalling', 'rtcstream-signalling');
// How long a line may take to do what it should (frames, a file, an exit).
export const MEDIA_MS = 30000;

export const TMP = mkdtempSync(join(tmpdir(), 'rtcstream-doc-'));

// The environment every line runs in: the plugin of this build (as
// `export GST_PLUGIN_PATH=$PWD/build/plugins` sets it), rtcstream-signalling
// on PATH as if installed, the X display, no colour in logs.
function lineEnv (extra = {}) {
  return {
    PATH: `${join(BUILD, 'signalling')}:${process.env.PATH}`,
    GST_PLUGIN_PATH: process.env.GST_PLUGIN_PATH || join(BUILD, 'plugins'),
    GST_DEBUG_NO_COLOR: '1',
    ...(display.name ? { DISPLAY: display.name } : {}),
    ...extra,
  };
}

// --- the X display ----------------------------------------------------------

const display = { name: null, why: null, child: null };

// Starts Xvfb on a free display number; display.why says why not.
export async function startDisplay () {
  const xvfb = ['/usr/bin/Xvfb'].find((p) => existsSync(p));
  if (!xvfb) {
    display.why = 'no X display for autovideosink: Xvfb is missing (scripts/install-deps.sh installs xvfb)';
    return;
  }
  mkdirSync(OUT, { recursive: true });
  // -noreset: Xvfb would otherwise reset, refusing clients, whenever its last one leaves.
  const child = spawn(xvfb, ['-displayfd', '3', '-noreset', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  let out = '';
  const number = await new Promise((res) => {
    const timer = setTimeout(() => res(null), 10000);
    child.stdio[3].on('data', (d) => {
      out += d;
      if (out.includes('\n')) { clearTimeout(timer); res(out.trim()); }
    });
    child.on('exit', () => { clearTimeout(timer); res(null); });
  });
  child.stdio[3].destroy();
  child.unref();
  if (!number) {
    child.kill('SIGKILL');
    display.why = 'Xvfb did not start';
    return;
  }
  display.name = `:${number}`;
  display.child = child;
  process.on('exit', () => child.kill('SIGKILL'));
}

export function stopDisplay () {
  if (display.child) display.child.kill('SIGTERM');
}

// Why a line that shows video or plays sound cannot run here, or null.
export const noDisplay = () => display.why;

// --- substitution -------------------------------------------------------------

// The documented line as run here: `127.0.0.1:8443` and `HOST:8443` become the
// test server's address; paths in this checkout (examples/, scripts/, tests/,
// bench/, build/, $PWD/build) become absolute, since lines run in a temporary
// directory where the files they write (cam.mp4...) land; `extra` are the
// entry's own [from, to] pairs (string or RegExp).
export function substitute (text, { port, extra = [] } = {}) {
  let s = text;
  for (const [from, to] of extra) s = s.split(from).join(to);
  if (port) s = s.replace(/(127\.0\.0\.1|HOST):8443\b/g, `127.0.0.1:${port}`);
  s = s.replace(/\$PWD\/build\//g, `${BUILD}/`);
  s = s.replace(/(^|[\s=(])build(?=\/|\s|$)/g, `$1${BUILD}`);  // also in $(build/...)
  s = s.replace(/(^|[\s=])((?:examples|scripts|tests|bench)\/)/g, `$1${ROOT}/$2`);
  return s;
}

// --- lines ------------------------------------------------------------------

let lineCount = 0;

// Runs a (substituted) line with bash, in a process group of its own, in TMP
// (or cwd). basesink logs what every sink renders to LOGNAME-sinks.log, read by
// rendered (). Returns the harness child, with .ran (what ran) and .logName.
export function startLine (logName, text, { env = {}, cwd = TMP, onStdout = null } = {}) {
  const name = `${logName}-${++lineCount}`;
  const sinks = join(OUT, `${name}-sinks.log`);
  rmSync(sinks, { force: true });     // never read an earlier run's
  const child = run(name, '/bin/bash', ['-c', text], lineEnv({
    GST_DEBUG: 'basesink:6', GST_DEBUG_FILE: sinks, ...env,
  }), onStdout, { group: true, cwd, stdin: 'pipe' });
  child.ran = text;
  child.sinksLog = sinks;
  return child;
}

// What the sinks of a running line rendered so far: { name: { buffers, caps } },
// from basesink's "rendering object" LOG lines and the caps events it logs.
export function rendered (child) {
  const out = {};
  let text = '';
  try { text = readFileSync(child.sinksLog, 'utf8'); } catch { return out; }
  const get = (n) => (out[n] ??= { buffers: 0, caps: '' });
  for (const line of text.split('\n')) {
    let m = /gst_base_sink_chain_unlocked:<([^>]+)> rendering object/.exec(line);
    if (m) { get(m[1]).buffers++; continue; }
    m = /gst_base_sink_event:<([^>]+)> received event .*GstEventCaps, caps=\(GstCaps\)"([^"]*)"/.exec(line);
    if (m) get(m[1]).caps = m[2].replace(/\\/g, '');
  }
  return out;
}

// The sinks inside our own elements, which basesink logs like any other:
// rtcstreamsink's per-input fakesink (raw video before the encoders) and
// webrtcbin's nicesinks and appsinks. What they render is not what the line's
// user sees.
const INTERNAL_SINK = /^((video|audio|data)_\d+-sink|nicesink\d+|appsink\d+)$/;

// Buffers of raw video and raw audio a line's own sinks got, and those its
// filesinks wrote.
function tally (child) {
  const t = { video: 0, audio: 0, file: 0, sinks: rendered(child) };
  for (const [name, { buffers, caps }] of Object.entries(t.sinks)) {
    if (INTERNAL_SINK.test(name)) continue;
    if (/^filesink/.test(name)) t.file += buffers;
    else if (caps.startsWith('video/x-raw')) t.video += buffers;
    else if (caps.startsWith('audio/x-raw')) t.audio += buffers;
  }
  return t;
}

const alive = (c) => c.exitCode === null && c.signalCode === null;

function failIfExited (child) {
  if (!alive(child)) {
    throw new Error(`${child.name} exited (${child.exitCode ?? child.signalCode}) early:\n${child.log}`);
  }
}

// Waits until the line's sinks rendered at least `video` raw video and
// `audio` raw audio buffers, and its filesink wrote `file` buffers.
export async function waitRendered (child, { video = 0, audio = 0, file = 0 } = {}, ms = MEDIA_MS) {
  return waitFor(`${child.name} to render ${video} video and ${audio} audio buffers, ${file} into a file`, () => {
    failIfExited(child);
    const t = tally(child);
    return { ...t, ok: t.video >= video && t.audio >= audio && t.file >= file };
  }, ms).catch((err) => { err.message += `\nran: ${child.ran}\n--- output ---\n${child.log}`; throw err; });
}

// A recording line: once its filesink wrote, it records for `seconds` more
// (the length of the recording, not a timed check).
export async function records (child, seconds = 3) {
  await waitRendered(child, { file: 1 });
  await sleep(seconds * 1000);
  failIfExited(child);
}

// Waits until the line printed something matching re; resolves with the match.
export async function waitOutput (child, re, ms = STEP_MS) {
  let full = '';
  const r = await waitFor(`${child.name} to print ${re}`, () => {
    try { full = readFileSync(child.logFile, 'utf8'); } catch { full = child.log; }
    const m = re.exec(full);
    if (!m) failIfExited(child);
    return m;
  }, ms).catch((err) => { err.message += `\nran: ${child.ran}\n--- output ---\n${child.log}`; throw err; });
  return r;
}

// Ctrl-C: SIGINT to the line's group; it must exit within the harness's bound
// with status 0 (gst-launch and our examples exit 0 on SIGINT; gst-play-1.0
// without a terminal lets SIGINT end it). With -e, gst-launch must have got
// its EOS.
export async function interrupt (child, { eos = /\s-e\s/.test(child.ran) } = {}) {
  await stop(child, 'SIGINT');
  if (/gst-play-1\.0|play\.sh/.test(child.ran) && child.signalCode === 'SIGINT') return;
  assert.equal(child.exitCode, 0, `${child.name} exits 0 after SIGINT:\n${child.log}`);
  if (eos) assert.match(child.log, /Got EOS from element "pipeline0"/, `${child.name} ends with EOS`);
}

// --- servers and peers --------------------------------------------------------

// rtcstream-signalling with these arguments (--port 0 unless given); resolves
// with the child and its port.
export async function startSignalling (logName, args = []) {
  const withPort = args.includes('--port') ? args : ['--port', '0', ...args];
  const child = run(logName, SERVER, withPort, { GST_DEBUG_NO_COLOR: '1' });
  const m = await waitFor(`${logName} to listen`, () => {
    if (!alive(child)) throw new Error(`${logName} exited: ${child.log}`);
    return /listening on wss?:\/\/[^:]+:(\d+)\/ws/.exec(child.log);
  }, 10000);
  child.port = Number(m[1]);
  return child;
}

// A documented server line run as written, its port substituted (a line
// without --port gets --port 0: the default 8443 may be taken on a shared
// machine). Resolves with the child and its port.
export async function startServerLine (logName, text, opts = {}) {
  let s = text.replace(/\s*&\s*$/, '');
  s = s.replace(/--port\s+8443\b/, '--port 0');
  if (!/--port\b/.test(s)) s = s.replace(/(rtcstream-signalling)\b/, '$1 --port 0');
  const child = startLine(logName, substitute(s, opts), opts);
  const m = await waitOutput(child, /listening on wss?:\/\/[^:]+:(\d+)\/ws/, 10000);
  child.port = Number(m[1]);
  return child;
}

// Checks what a documented server line says: it serves the page at / and the
// websocket, and exits 0 on SIGINT within the bound.
export async function checkServerServes (server) {
  const page = await fetch(`http://127.0.0.1:${server.port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /rtcstream/);
}

// A pipeline of our own that watches `stream` on port (a checker, not a
// documented line): resolves once it counted the frames asked for.
export async function watched (port, stream, { video = 30, audio = 0, props = '', logName } = {}) {
  const c = watchStream(port, stream, {
    props, audio: audio > 0, logName: logName ?? `checker-${stream}-${++lineCount}`,
  });
  try {
    await waitFor(`the checker to receive ${video} video and ${audio} audio buffers of ${stream}`, () => {
      failIfExited(c);
      return { ...c.counts, codec: c.rtpCodec, ok: c.counts.v >= video && c.counts.a >= audio };
    }, MEDIA_MS).catch((err) => { err.message += `\n--- checker ---\n${c.log}`; throw err; });
    return { counts: { ...c.counts }, codec: c.rtpCodec, caps: c.caps };
  } finally {
    await stop(c, 'SIGINT');
  }
}

// gst-discoverer-1.0 on a file: its text, with the codecs and duration checked.
export function discover (file, { video, audio, minSeconds = 1 } = {}) {
  assert.ok(existsSync(file) && statSync(file).size > 0, `${file} was written`);
  const r = spawnSync('gst-discoverer-1.0', [file], { encoding: 'utf8', timeout: 30000 });
  const text = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, `gst-discoverer-1.0 ${file}:\n${text}`);
  const d = /Duration: (\d+):(\d+):(\d+\.\d+)/.exec(text);
  assert.ok(d, `a duration in:\n${text}`);
  const seconds = Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]);
  assert.ok(seconds >= minSeconds, `${file} lasts ${seconds} s (>= ${minSeconds}):\n${text}`);
  if (video) assert.match(text, new RegExp(`video #\\d+: ${video}`), `${file} has ${video} video:\n${text}`);
  if (audio) assert.match(text, new RegExp(`audio #\\d+: ${audio}`), `${file} has ${audio} audio:\n${text}`);
  return { text, seconds };
}

// A free TCP+UDP port on 127.0.0.1 (from a server we start and stop).
export async function freePort () {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

// coturn as docs/turn.md shows it for one machine, with the user alice:s3cret
// of the docs (or, given secret, use-auth-secret with that secret); resolves
// with { child, port, log () }.
export async function startCoturn (logName, { secret } = {}) {
  const dir = mkdtempSync(join(TMP, 'turn-'));
  const port = await freePort();
  writeFileSync(join(dir, 'turnserver.conf'), [
    'listening-ip=127.0.0.1', 'relay-ip=127.0.0.1', `listening-port=${port}`, 'lt-cred-mech',
    ...(secret ? ['use-auth-secret', `static-auth-secret=${secret}`] : ['user=alice:s3cret']),
    'realm=turn.example.org', 'no-tls', 'no-dtls', 'no-cli', 'no-rfc5780', 'allow-loopback-peers',
    'verbose', 'simple-log', `log-file=${dir}/turnserver.log`, `userdb=${dir}/turndb`,
    `pidfile=${dir}/turnserver.pid`, '',
  ].join('\n'));
  const child = run(logName, 'turnserver', ['-c', join(dir, 'turnserver.conf')], {}, null, { cwd: dir });
  const log = () => readdirSync(dir).filter((f) => f.startsWith('turnserver') && f.endsWith('.log'))
    .map((f) => readFileSync(join(dir, f), 'utf8')).join('');
  await waitFor('coturn to listen', async () => {
    if (!alive(child)) throw new Error(`coturn exited: ${child.log}${log()}`);
    return new Promise((res) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); res(true); });
      s.on('error', () => res(false));
    });
  }, 10000);
  return { child, port, log };
}

// Janus as docs/scale-out.md describes it (VideoRoom and HTTP only, REST API
// on 127.0.0.1, room 1234); resolves with { child, port }.
export async function startJanus (logName) {
  const dir = mkdtempSync(join(TMP, 'janus-'));
  const lib = '/usr/lib/x86_64-linux-gnu/janus';
  const port = await freePort();
  const others = (sub, keep) => readdirSync(join(lib, sub)).filter((f) => f.endsWith('.so') && f !== keep).join(',');
  mkdirSync(join(dir, 'none'));
  writeFileSync(join(dir, 'janus.jcfg'), `general: {
  configs_folder = "${dir}"
  plugins_folder = "${lib}/plugins"
  transports_folder = "${lib}/transports"
  events_folder = "${dir}/none"
  loggers_folder = "${dir}/none"
}
nat: {
}
plugins: {
  disable = "${others('plugins', 'libjanus_videoroom.so')}"
}
transports: {
  disable = "${others('transports', 'libjanus_http.so')}"
}
events: {
  broadcast = false
}
`);
  writeFileSync(join(dir, 'janus.transport.http.jcfg'), `general: {
  base_path = "/janus"
  http = true
  port = ${port}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
  admin_https = false
}
`);
  writeFileSync(join(dir, 'janus.plugin.videoroom.jcfg'), `general: {
}
room-1234: {
  description = "cam"
  publishers = 4
  bitrate = 2000000
  fir_freq = 2
  videocodec = "vp8,h264"
  audiocodec = "opus"
}
`);
  const child = run(logName, 'janus', ['-F', dir, '-C', join(dir, 'janus.jcfg'), '-N'], {}, null, { cwd: dir });
  await waitFor('Janus to answer GET /janus/info', async () => {
    if (!alive(child)) throw new Error(`janus exited: ${child.log}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/janus/info`);
      return r.ok && (await r.text()).includes('server_info');
    } catch { return false; }
  }, 15000);
  return { child, port };
}

// A self-signed certificate for 127.0.0.1: { cert, key } (PEM files).
export function makeCertificate (dir = TMP) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
  { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { cert, key };
}

// tests/interop/whip_endpoint.py (aiortc) with these arguments; resolves with
// the child, its port and its JSON events so far (child.events).
export async function startEndpoint (logName, args = [], { line } = {}) {
  const events = [];
  const onStdout = (l) => { try { events.push(JSON.parse(l)); } catch { /* not JSON */ } };
  const child = line
    ? startLine(logName, line, { onStdout })
    : run(logName, '/usr/bin/python3', [join(ROOT, 'tests/interop/whip_endpoint.py'), ...args], {}, onStdout,
      { stdin: 'pipe' });
  child.events = events;
  const listening = await waitFor(`${logName} to listen`, () => {
    if (!alive(child)) throw new Error(`${logName} exited: ${child.log}`);
    return events.find((e) => e.event === 'listening');
  }, 15000);
  child.port = listening.port;
  return child;
}

// --- the browser ----------------------------------------------------------------

let browser = null;

// One headless Chromium (fake camera and microphone) for every browser line;
// each caller gets a new page. Null when it cannot run (browserMissing says why).
export async function newPage () {
  if (browserMissing) return null;
  browser ??= (async () => {
    const ctx = { logs: [] };
    await launchBrowser(ctx);
    return ctx;
  })();
  const ctx = await browser;
  const page = await ctx.browser.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (m) => ctx.logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => ctx.logs.push(`pageerror: ${e.message}`));
  return page;
}

export async function closeBrowserOnce () {
  if (!browser) return;
  const ctx = await browser;
  await closeBrowser(ctx, 'doc-page-console');
  removeProfile(ctx);
}

// What the page's <video> elements decoded: the largest totalVideoFrames.
export function pageFrames (page) {
  return page.evaluate(() => Math.max(0, ...[...document.querySelectorAll('video')]
    .map((v) => v.getVideoPlaybackQuality().totalVideoFrames)));
}

// The page plays video by itself: frames decoded grow past n, with no click.
export async function pagePlays (page, n = 30) {
  const first = await waitFor(`the page to decode ${n} video frames`, async () => {
    const f = await pageFrames(page);
    return { frames: f, ok: f >= n };
  }, MEDIA_MS);
  await waitFor('the page to keep decoding', async () => {
    const f = await pageFrames(page);
    return { frames: f, ok: f >= first.frames + 10 };
  });
  return first.frames;
}
