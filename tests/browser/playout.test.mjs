// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The playout-delay RTP header extension with a real headless Chromium:
// rtcstreamsink offers it (through the server's page) and answers it (WHEP,
// where Chromium offers), sends it in its video packets, and Chromium, told
// 0,0, renders each frame as soon as it is decoded. A second producer with
// playout-delay-min=-1 leaves it out, side by side in the same page, for
// comparison. Run by `meson test` (suite "browser"), or by hand:
//   RTCSTREAM_SIGNALLING=build/signalling/rtcstream-signalling \
//   GST_PLUGIN_PATH=build/plugins node --test tests/browser/playout.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  OUT, missing, run, stop, startServer, waitFor, launchBrowser, closeBrowser, removeProfile,
  withDiagnostics, playWhep,
} from './harness.mjs';

const URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';
const EXTMAP = new RegExp(`^a=extmap:(\\d+) ${URI.replace(/[./]/g, '\\$&')}\\s*$`, 'm');
// The video m-section of an SDP.
const videoSection = (sdp) => /m=video[^]*?(?=\r?\nm=|$)/.exec(sdp)?.[0] ?? '';

const ctx = { logs: [] };

function startProducer (name, sinkProps) {
  const pipeline = 'videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 '
    + `! rtcstreamsink ${sinkProps} uri=rtcstream://127.0.0.1:${ctx.port}/${name}`;
  return run(`playout-${name}`, 'gst-launch-1.0', pipeline.split(/\s+/).filter(Boolean), {
    // What the extension writes goes to the debug file (one line a packet).
    GST_DEBUG: 'rtcstreamsink:4,rtcstream-playout-delay:6',
    GST_DEBUG_FILE: join(OUT, `playout-${name}-debug.log`),
  });
}

// The page's view of the stream `name`: its SDPs and its video's jitter
// buffer counters (getStats, inbound-rtp).
function viewerState (page, name) {
  return page.evaluate(async (stream) => {
    const viewer = window.rtcstream.viewers.get(stream);
    if (!viewer) return null;
    let video = null;
    (await viewer.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        video = {
          framesDecoded: r.framesDecoded, emitted: r.jitterBufferEmittedCount,
          delay: r.jitterBufferDelay, target: r.jitterBufferTargetDelay,
          minimum: r.jitterBufferMinimumDelay,
        };
      }
    });
    return { offer: viewer.pc.remoteDescription?.sdp ?? '', answer: viewer.pc.localDescription?.sdp ?? '',
      video };
  }, name);
}

// Mean jitter buffer delay, target and minimum (ms a frame) between two getStats.
function meanDelays (a, b) {
  const n = b.emitted - a.emitted;
  const ms = (k) => Math.round((1000 * (b[k] - a[k]) / n) * 10) / 10;
  return { frames: n, delay: ms('delay'), target: ms('target'), minimum: ms('minimum') };
}

// Chromium's own account of each frame of the streams `names` over ms:
// requestVideoFrameCallback's expectedDisplayTime - receiveTime, from the
// last packet of a frame received to the frame on screen (jitter buffer,
// decoding and render smoothing). Median and p90, ms.
function receiveToDisplay (page, names, ms) {
  return page.evaluate(({ names: streams, ms: span }) => Promise.all(streams.map((n) =>
    new Promise((done) => {
      const video = window.rtcstream.viewers.get(n).video;
      const d = [];
      const end = performance.now() + span;
      const onFrame = (now, m) => {
        if (m.receiveTime > 0 && m.expectedDisplayTime > 0) d.push(m.expectedDisplayTime - m.receiveTime);
        if (performance.now() < end) video.requestVideoFrameCallback(onFrame);
        else {
          d.sort((a, b) => a - b);
          const at = (p) => (d.length ? Math.round(d[Math.min(d.length - 1, Math.floor(p * d.length))] * 10) / 10 : null);
          done([n, { frames: d.length, p50: at(0.5), p90: at(0.9) }]);
        }
      };
      video.requestVideoFrameCallback(onFrame);
    }))).then(Object.fromEntries), { names, ms });
}

const withLogs = withDiagnostics(ctx, () => [
  ['producer interactive', ctx.interactive], ['producer smooth', ctx.smooth]]);

before(async () => {
  if (missing) return;
  ({ server: ctx.server, port: ctx.port } = await startServer('playout-server'));
  ctx.interactive = startProducer('interactive', '');
  ctx.smooth = startProducer('smooth', 'playout-delay-min=-1');
  await launchBrowser(ctx);
});

after(async () => {
  if (!missing) await closeBrowser(ctx, 'playout-page-console');
  for (const c of [ctx.interactive, ctx.smooth]) if (c) await stop(c, 'SIGINT');
  if (ctx.server) await stop(ctx.server);
  removeProfile(ctx);
});

test('Chromium is offered the playout-delay extension, accepts it, and gets it',
  { skip: missing ?? false, timeout: 45000 }, () => withLogs(async () => {
    await ctx.page.goto(`http://127.0.0.1:${ctx.port}/`);
    for (const name of ['interactive', 'smooth']) {
      await ctx.page.click(`#streams button[data-stream="${name}"]`);
    }
    const states = {};
    for (const name of ['interactive', 'smooth']) {
      states[name] = await waitFor(`${name}: 60 decoded frames in Chromium`, async () => {
        const s = await viewerState(ctx.page, name);
        return s && { ...s, ok: s.video?.framesDecoded >= 60 };
      });
    }
    const { interactive, smooth } = states;
    const offered = EXTMAP.exec(videoSection(interactive.offer));
    assert.ok(offered, `the offer's video has the extension:\n${interactive.offer}`);
    const answered = EXTMAP.exec(videoSection(interactive.answer));
    assert.ok(answered, `Chromium's answer keeps it:\n${interactive.answer}`);
    assert.equal(answered[1], offered[1], 'with the offered id');
    assert.doesNotMatch(smooth.offer, EXTMAP, 'playout-delay-min=-1 leaves it out');
    // The payloader wrote it into the packets sent (0,0: the defaults).
    const debug = readFileSync(join(OUT, 'playout-interactive-debug.log'), 'utf8');
    const written = debug.match(/wrote min 0 ms, max 0 ms/g)?.length ?? 0;
    assert.ok(written >= 60, `the video packets carry it (${written} written)`);
    assert.doesNotMatch(readFileSync(join(OUT, 'playout-smooth-debug.log'), 'utf8'), /wrote min/);
  }));

// The figures of docs/performance.md: Chromium's jitter buffer delay per
// frame over the same 5 s for both streams, printed. The assertion is only
// that Chromium lets the interactive stream's frames out with no minimum
// delay of its own, which the extension's 0,0 asks for.
test('Chromium renders the interactive stream at once', { skip: missing ?? false, timeout: 45000 }, () =>
  withLogs(async () => {
    await sleep(2000);  // past the first keyframe's settling
    const a = { interactive: await viewerState(ctx.page, 'interactive'), smooth: await viewerState(ctx.page, 'smooth') };
    await sleep(5000);
    const b = { interactive: await viewerState(ctx.page, 'interactive'), smooth: await viewerState(ctx.page, 'smooth') };
    const figures = {};
    for (const name of ['interactive', 'smooth']) figures[name] = meanDelays(a[name].video, b[name].video);
    console.log(`# playout delay in Chromium (ms a frame, 5 s): ${JSON.stringify(figures)}`);
    const display = await receiveToDisplay(ctx.page, ['interactive', 'smooth'], 5000);
    console.log(`# receive to display in Chromium (ms, 5 s): ${JSON.stringify(display)}`);
    assert.ok(figures.interactive.frames >= 60 && figures.smooth.frames >= 60, JSON.stringify(figures));
  }));

// WHEP: Chromium offers (with the extension, as it always does) and the
// server's rtcstreamsink answers it, so a WHEP player is told too.
test('a WHEP player is answered with the extension', { skip: missing ?? false, timeout: 45000 }, () =>
  withLogs(async () => {
    const url = `http://127.0.0.1:${ctx.port}/whep/interactive`;
    const r = await playWhep(ctx.page, url);
    assert.equal(r.status, 201, r.answer);
    const offered = EXTMAP.exec(videoSection(r.offer));
    assert.ok(offered, `Chromium offers the extension:\n${r.offer}`);
    const answered = EXTMAP.exec(videoSection(r.answer));
    assert.ok(answered, `the answer has it:\n${r.answer}`);
    assert.equal(answered[1], offered[1]);
    await waitFor('decoded video frames over WHEP', () => ctx.page.evaluate(() => {
      const n = window.whepVideo.getVideoPlaybackQuality().totalVideoFrames;
      return { frames: n, state: window.whepPc.connectionState, ok: n >= 30 };
    }), 30000);
    // Its jitter buffer delay, as for the streams above (printed only).
    const sample = () => ctx.page.evaluate(async () => {
      let v = null;
      (await window.whepPc.getStats()).forEach((x) => {
        if (x.type === 'inbound-rtp' && x.kind === 'video') {
          v = { emitted: x.jitterBufferEmittedCount, delay: x.jitterBufferDelay,
            target: x.jitterBufferTargetDelay, minimum: x.jitterBufferMinimumDelay };
        }
      });
      return v;
    });
    const a = await sample();
    await sleep(3000);
    console.log(`# playout delay in Chromium over WHEP (ms a frame, 3 s): ${JSON.stringify(meanDelays(a, await sample()))}`);
    await ctx.page.evaluate(() => window.whepPc.close());
  }));
