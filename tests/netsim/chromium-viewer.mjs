// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A headless Chromium that watches one stream on the server's web page and
// says what it decodes, for netsim tests that run it inside a viewer's
// namespace (the browser's own network stack behind the simulated link):
//
//   node chromium-viewer.mjs http://10.77.0.1:PORT NAME [--g2g]
//
// stdout, one line a second once the page has a peer connection:
//   stats frames=N width=W height=H bytes=B state=S
// (framesDecoded, frame size and bytesReceived of the inbound video, the
// connection state), and "error TEXT" if the page cannot be opened. It runs
// until stdin closes or it gets SIGTERM.
//
// With --g2g (bench/netsim.sh g2g) it also reads the capture time that
// rtcstream-bench's g2g producer stamps into each picture (wall clock, ms,
// 32 bits in blocks at the top of the picture) from every frame the page
// presents (requestVideoFrameCallback, the frame drawn into a canvas), and
// answers the lines "reset" (start counting) and "g2g" with
//   G2G RENDERED EXPECTED DROPPED P50 P90 P99 MAX TARGET UNREADABLE
// as rtcstream-bench's g2g consumers do: capture to the frame's expected
// display time in ms, DROPPED Chromium's framesDropped, TARGET its mean
// jitter buffer delay (ms) over the window; then
//   CHROMIUM processing P decode D assembly A
// Chromium's own means per frame over the window (ms, getStats): from a
// frame's first packet to its decoding done (totalProcessingDelay), its
// decoding (totalDecodeTime), its first packet to its last
// (totalAssemblyTime). Uses the browser tests' harness
// (tests/browser: playwright-core, Debian's chromium); "skip REASON" when
// they are missing.
import { createInterface } from 'node:readline';
import { missing, launchBrowser, closeBrowser, removeProfile } from '../browser/harness.mjs';

const [base, name, mode] = process.argv.slice(2);
const g2g = mode === '--g2g';
const ctx = { logs: [] };
let done = false;

async function finish (code) {
  if (done) return;
  done = true;
  await closeBrowser(ctx, `netsim-chromium-${name}`);
  removeProfile(ctx);
  process.exit(code);
}

process.on('SIGTERM', () => finish(0));
const input = createInterface({ input: process.stdin });
input.on('close', () => finish(0));

// The harness needs RTCSTREAM_SIGNALLING only for the server it starts; this
// script starts none.
if (missing && !missing.startsWith('RTCSTREAM_SIGNALLING')) {
  console.log(`skip ${missing}`);
  await finish(0);
}

try {
  await launchBrowser(ctx, { fakeMedia: false });
  // ?stream=NAME plays that stream at once, muted (see signalling/web).
  await ctx.page.goto(`${base}/?stream=${encodeURIComponent(name)}`);
} catch (e) {
  console.log(`error ${String(e.message).split('\n')[0]}`);
  await finish(1);
}

if (g2g) {
  input.on('line', (line) => {
    const cmd = line.trim();
    if (cmd !== 'reset' && cmd !== 'g2g') return;
    ctx.page.evaluate(g2gCommand, cmd).then((answer) => {
      if (answer) console.log(answer);
    }, (e) => console.log(`error ${String(e.message).split('\n')[0]}`));
  });
  await ctx.page.evaluate(g2gInstall, name);
}

while (!done) {
  const s = await ctx.page.evaluate(async (stream) => {
    const viewer = window.rtcstream?.viewers?.get(stream);
    if (!viewer) return null;
    const out = { frames: 0, width: 0, height: 0, bytes: 0, state: viewer.pc.connectionState };
    (await viewer.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.frames = r.framesDecoded ?? 0;
        out.width = r.frameWidth ?? 0;
        out.height = r.frameHeight ?? 0;
        out.bytes = r.bytesReceived ?? 0;
      }
    });
    return out;
  }, name).catch(() => null);
  if (s)
    console.log(`stats frames=${s.frames} width=${s.width} height=${s.height} bytes=${s.bytes} state=${s.state}`);
  await new Promise((r) => setTimeout(r, 1000));
}

// In the page: reads the stamp of each presented frame of the stream's video.
// Mirrors bench/rtcstream-bench.cpp's write_stamp: 32 bits, bit i a block of
// width/40 pixels in column i, row 0 white for 1, row 1 the inverse; sampled
// at the blocks' centres.
function g2gInstall (stream) {
  const g = window.__g2g = { ms: [], recv: [], cb: [], pres: [], first: 0, last: 0, unreadable: 0, counting: false };
  const canvas = document.createElement('canvas');
  const cx = canvas.getContext('2d', { willReadFrequently: true });
  const attach = () => {
    const video = window.rtcstream?.viewers?.get(stream)?.video;
    if (!video) { setTimeout(attach, 50); return; }
    const onFrame = (now, meta) => {
      video.requestVideoFrameCallback(onFrame);
      if (!g.counting) return;
      const w = meta.width, bs = Math.max(1, Math.floor(w / 40));
      if (canvas.width !== w) { canvas.width = w; canvas.height = 2 * bs; }
      cx.drawImage(video, 0, 0, w, 2 * bs, 0, 0, w, 2 * bs);
      const px = cx.getImageData(0, 0, w, 2 * bs).data;
      let v = 0, ok = true, bad = '';
      for (let bit = 0; bit < 32 && ok; bit++) {
        const x = Math.floor((2 * bit + 1) * w / 80);
        // The stamp is in the luma only (the colour of the picture stays): luma.
        const luma = (y) => { const i = (y * w + x) * 4; return 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2]; };
        const pa = luma(Math.floor(w / 80)), pb = luma(Math.floor(3 * w / 80));
        const a = pa > 128, b = pb > 128;
        ok = a !== b;
        if (!ok) bad = `bit ${bit} ${pa}/${pb}`;
        if (a) v += 2 ** bit;
      }
      // The stamp is the wall clock in ms modulo 2^32; the frame is shown at
      // expectedDisplayTime, on performance.now()'s time line, which may be
      // offset from the wall clock: Date.now () is the wall clock (ms).
      const shown = Date.now() + (meta.expectedDisplayTime - performance.now());
      const M = 2 ** 32;
      let late = (((shown - v - 0.5) % M) + M) % M;  // truncated ms: + 0.5
      if (late > M / 2) late -= M;
      if (!ok || late < -1 || late > 10000) {
        g.unreadable++;
        g.why = `${ok ? 'late ' + late : 'bits ' + bad} w=${w} h=${meta.height} v=${v} px0=${px[0]},${px[1]},${px[2]}`;
        return;
      }
      const stamp = shown - late;
      g.ms.push(late);
      // Where it went: the frame's last packet received (receiveTime, for
      // WebRTC) and this callback (its `now`, the frame's rendering step),
      // both on performance.now()'s time line, from the stamp.
      const wall = (t) => Date.now() + (t - performance.now());
      if (meta.receiveTime) g.recv.push(wall(meta.receiveTime) - stamp);
      g.cb.push(wall(now) - stamp);
      g.pres.push(wall(meta.presentationTime) - stamp);
      if (!g.first) g.first = stamp;
      g.last = Math.max(g.last, stamp);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  attach();
}

async function g2gCommand (cmd) {
  const g = window.__g2g;
  const viewer = window.rtcstream?.viewers?.get(new URLSearchParams(location.search).get('stream'));
  const inbound = async () => {
    let r = {};
    if (viewer) (await viewer.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') r = s;
    });
    return r;
  };
  const s = await inbound();
  if (cmd === 'reset') {
    Object.assign(g, { ms: [], recv: [], cb: [], pres: [], first: 0, last: 0, unreadable: 0, counting: true });
    g.base = { dropped: s.framesDropped ?? 0, delay: s.jitterBufferDelay ?? 0,
      emitted: s.jitterBufferEmittedCount ?? 0 };
    for (const k of ['framesDecoded', 'totalDecodeTime', 'totalProcessingDelay',
      'totalAssemblyTime', 'framesAssembledFromMultiplePackets'])
      g.base[k] = s[k] ?? 0;
    return null;
  }
  // The p-th percentile of the sorted values a.
  const pctOf = (a, p) => a.length ? a[Math.min(a.length - 1, Math.floor(p / 100 * a.length))] : -1;
  const sorted = (a) => [...a].sort((x, y) => x - y);
  const v = sorted(g.ms);
  const pct = (p) => pctOf(v, p);
  const median = (a) => pctOf(sorted(a), 50);
  const expected = g.last > g.first ? (g.last - g.first) / (1000 / 30) + 1 : 0;
  const emitted = (s.jitterBufferEmittedCount ?? 0) - (g.base?.emitted ?? 0);
  const target = emitted > 0 ? ((s.jitterBufferDelay ?? 0) - g.base.delay) / emitted * 1000 : -1;
  const f = (x) => x.toFixed(1);
  // Where Chromium's time went, ms per frame over the window (its getStats).
  const perFrame = (total, count) => {
    const n = (s[count] ?? 0) - (g.base?.[count] ?? 0);
    return n > 0 ? ((s[total] ?? 0) - (g.base?.[total] ?? 0)) / n * 1000 : -1;
  };
  return `G2G ${v.length} ${Math.round(expected)} ${(s.framesDropped ?? 0) - (g.base?.dropped ?? 0)} ` +
    `${f(pct(50))} ${f(pct(90))} ${f(pct(99))} ${f(v.length ? v[v.length - 1] : -1)} ` +
    `${f(target)} ${g.unreadable}` + (g.why ? `\nunreadable: ${g.why}` : '') +
    `\nCHROMIUM processing ${f(perFrame('totalProcessingDelay', 'framesDecoded'))} ` +
    `decode ${f(perFrame('totalDecodeTime', 'framesDecoded'))} ` +
    `assembly ${f(perFrame('totalAssemblyTime', 'framesAssembledFromMultiplePackets'))}; ` +
    `from the stamp (median): received ${f(median(g.recv))} frame callback ${f(median(g.cb))} ` +
    `presented ${f(median(g.pres))} shown ${f(pct(50))}`;
}
