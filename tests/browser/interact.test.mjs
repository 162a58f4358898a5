// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A browser talks back to a pipeline: the data channel both ways, mouse and
// keyboard on the <video> arriving in the pipeline as GstNavigation events
// scaled to the video, a page reload that rejoins cleanly, and Chromium's
// mDNS (.local) host candidates. The producer is examples/interactive.cpp
// (videotestsrc ! navigationtest ! rtcstreamsink data-channel=true), which
// prints what it receives as JSON lines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  OUT, missing as missingBase, run, stop, startServer, waitFor, launchBrowser, closeBrowser,
  removeProfile,
} from './harness.mjs';

const PRODUCER = process.env.RTCSTREAM_INTERACTIVE;
const missing = missingBase ?? (PRODUCER ? null : 'RTCSTREAM_INTERACTIVE is not set (run through meson test)');
const ctx = { logs: [], events: [] };

function diagnostics () {
  return [
    `(full logs in ${OUT})`,
    '--- page console ---', ...ctx.logs.slice(-30),
    '--- producer events ---', ...ctx.events.slice(-30).map((e) => JSON.stringify(e)),
    '--- producer ---', ctx.producer?.log ?? '',
  ].join('\n');
}

async function step (what, fn) {
  try {
    return await fn();
  } catch (err) {
    err.message += `\n(${what})\n${diagnostics()}`;
    throw err;
  }
}

// The producer's events of this type (and matching pred) so far.
const seen = (type, pred = () => true) => ctx.events.filter((e) => e.event === type && pred(e));

// What the viewer of `name` in the page reports.
function viewerState (name) {
  return ctx.page.evaluate(async (stream) => {
    const v = window.rtcstream.viewers.get(stream);
    if (!v) return null;
    let framesDecoded = 0;
    (await v.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') framesDecoded = r.framesDecoded;
    });
    return {
      state: v.pc.connectionState, framesDecoded, channel: v.channel?.readyState ?? null,
      navigation: v.navigation !== null, width: v.video.videoWidth,
      box: (({ width, height }) => ({ width, height }))(v.video.getBoundingClientRect()),
    };
  }, name);
}

async function playing (name) {
  await ctx.page.waitForSelector(`#streams button[data-stream="${name}"]`);
  await ctx.page.click(`#streams button[data-stream="${name}"]`);
  return waitFor(`${name} to play with its data and input channels open`, async () => {
    const s = await viewerState(name);
    return s && { ...s, ok: s.framesDecoded > 10 && s.channel === 'open' && s.navigation };
  });
}

before(async () => {
  if (missing) return;
  ({ server: ctx.server, port: ctx.port } = await startServer('interact-server'));
  ctx.producer = run('interact-producer', PRODUCER, [`rtcstream://127.0.0.1:${ctx.port}/play`],
    { GST_DEBUG: process.env.GST_DEBUG || 'rtcstreamsink:5,rtcstream-datachannel:6' },
    (line) => {
      try { ctx.events.push(JSON.parse(line)); } catch { /* a log line */ }
    });
  // No fake camera flags: this browser hides its addresses behind mDNS names.
  await launchBrowser(ctx, { fakeMedia: false });
});

after(async () => {
  if (!missing) await closeBrowser(ctx, 'interact-page-console');
  if (ctx.producer) await stop(ctx.producer, 'SIGINT');
  if (ctx.server) await stop(ctx.server);
  removeProfile(ctx);
});

test('the data channel carries text both ways', { skip: missing ?? false, timeout: 30000 }, async () => {
  await step('open the page', () => ctx.page.goto(`http://127.0.0.1:${ctx.port}/`));
  await step('play', () => playing('play'));
  // The page sends; the pipeline's text-message handler answers with send-text.
  const reply = await step('round trip', () => ctx.page.evaluate(() => new Promise((resolve, reject) => {
    const v = window.rtcstream.viewers.get('play');
    const timer = setTimeout(() => reject(new Error('no echo from the pipeline')), 10000);
    v.addEventListener('message', (e) => {
      if (typeof e.detail === 'string' && e.detail.startsWith('echo: ')) {
        clearTimeout(timer);
        resolve(e.detail);
      }
    });
    if (!v.send('hello from Chromium')) reject(new Error('the data channel is not open'));
  })));
  assert.equal(reply, 'echo: hello from Chromium');
  assert.equal(seen('text', (e) => e.text === 'hello from Chromium').length, 1);
  // Binary too.
  await ctx.page.evaluate(() => window.rtcstream.viewers.get('play').send(new Uint8Array([1, 2, 3, 4, 5]).buffer));
  await step('binary', () => waitFor('a 5-byte binary message at the pipeline',
    () => seen('binary', (e) => e.size === 5).length > 0));
});

test('a click and a key on the video reach the pipeline, scaled to the video', { skip: missing ?? false, timeout: 30000 }, async () => {
  const s = await viewerState('play');
  // The element is not 320x240 on screen: coordinates must be scaled.
  assert.notEqual(Math.round(s.box.width), 320, `the tile is ${JSON.stringify(s.box)}`);
  const box = await ctx.page.locator('.tile[data-stream="play"] video').boundingBox();
  // A quarter across and three quarters down the picture (the tile keeps 4:3,
  // so the picture fills the element) is (80, 180) in a 320x240 frame.
  await ctx.page.mouse.click(box.x + box.width * 0.25, box.y + box.height * 0.75);
  const press = await step('click', () => waitFor('mouse-button-press and release in the pipeline', () => {
    const p = seen('navigation', (e) => e.type === 'mouse-button-press');
    const r = seen('navigation', (e) => e.type === 'mouse-button-release');
    return p.length && r.length && p[p.length - 1];
  }));
  assert.equal(press.button, 1);
  assert.ok(Math.abs(press.x - 80) <= 2 && Math.abs(press.y - 180) <= 2,
    `press at (${press.x}, ${press.y}), expected (80, 180) ±2 in a 320x240 frame`);
  // Moves arrive too (navigationtest draws the pointer).
  await ctx.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await step('move', () => waitFor('a mouse-move at the centre', () => seen('navigation',
    (e) => e.type === 'mouse-move' && Math.abs(e.x - 160) <= 2 && Math.abs(e.y - 120) <= 2).length > 0));
  // The click focused the video: keys go to the pipeline, with GStreamer's names.
  await ctx.page.keyboard.press('a');
  await ctx.page.keyboard.press('Enter');
  await step('keys', () => waitFor('key-press a and Return', () =>
    seen('navigation', (e) => e.type === 'key-press' && e.key === 'a').length > 0
    && seen('navigation', (e) => e.type === 'key-press' && e.key === 'Return').length > 0));
  await ctx.page.screenshot({ path: join(OUT, 'interact.png') });
});

test('Chromium hides its addresses behind mDNS names and still connects', { skip: missing ?? false, timeout: 30000 }, async () => {
  // A page that never asked for the camera gets .local host candidates; the
  // pipeline reaches the browser through the peer-reflexive address its
  // connectivity checks reveal.
  const candidates = await ctx.page.evaluate(() => {
    const sdp = window.rtcstream.viewers.get('play').pc.localDescription.sdp;
    return sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
  });
  assert.ok(candidates.length > 0, 'the answer lists candidates');
  const hostCandidates = candidates.filter((c) => / typ host/.test(c));
  assert.ok(hostCandidates.length > 0, candidates.join('\n'));
  assert.ok(hostCandidates.every((c) => /\.local /.test(c)),
    `every host candidate is an mDNS name:\n${candidates.join('\n')}`);
  const s = await viewerState('play');
  assert.equal(s.state, 'connected');
});

test('a page reload leaves the old session and rejoins cleanly', { skip: missing ?? false, timeout: 40000 }, async () => {
  const joinedBefore = seen('viewer-joined');
  assert.equal(joinedBefore.length, 1, 'one viewer so far');
  await ctx.page.reload();
  // The old viewer's websocket closed: the pipeline removes it.
  await step('old viewer removed', () => waitFor('the pipeline to remove the reloaded page\'s viewer',
    () => seen('viewer-left', (e) => e.peer === joinedBefore[0].peer).length === 1));
  await step('play again', () => playing('play'));
  const joined = seen('viewer-joined');
  assert.equal(joined.length, 2);
  assert.notEqual(joined[1].peer, joined[0].peer);
  assert.equal(seen('viewer-left').length, 1, 'only the old viewer left');
  // And the new session talks too.
  const reply = await ctx.page.evaluate(() => new Promise((resolve) => {
    const v = window.rtcstream.viewers.get('play');
    v.addEventListener('message', (e) => { if (String(e.detail).startsWith('echo: ')) resolve(e.detail); });
    v.send('after reload');
  }));
  assert.equal(reply, 'echo: after reload');
});
