// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A room (docs/protocol.md, Rooms): three pipelines (examples/room.cpp, one
// rtcstreamroom each) and one headless Chromium on the server's room.html
// page. Everyone receives everyone else: each pipeline gets pads for the
// three others and counts their frames, the page shows three tiles with
// moving video. Then one pipeline leaves, and the others' pads and the page's
// tile for it go; another comes, and everyone gets it; the page leaves, and
// its pads go from the pipelines. Then the server is SIGKILLed and restarted:
// the room goes on, nobody's pads go. Screenshots: out/room.png, out/room-after.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  OUT, missing as missingBase, run, stop, startServer, waitFor, launchBrowser, closeBrowser,
  removeProfile, withDiagnostics,
} from './harness.mjs';

const PARTICIPANT = process.env.RTCSTREAM_ROOM;
const missing = missingBase ?? (PARTICIPANT ? null : 'RTCSTREAM_ROOM is not set (run through meson test)');
const MEDIA_MS = 30000;
const ctx = { logs: [], pipelines: new Map() };
const withLogs = withDiagnostics(ctx, () => [...ctx.pipelines].map(([n, c]) => [`pipeline ${n}`, c]));

// A pipeline participant: its pads (name -> frames counted) from its JSON lines.
function participant (name) {
  const pads = new Map();
  const child = run(`room-${name}`, PARTICIPANT, [`rtcstream://127.0.0.1:${ctx.port}/meet`, name], {
    GST_DEBUG: process.env.GST_DEBUG || 'rtcstreamroom:5,rtcstreamsrc:4,rtcstream-signaller:4',
    GST_DEBUG_FILE: join(OUT, `room-${name}-debug.log`),
  }, (line) => {
    let e;
    try { e = JSON.parse(line); } catch { return; }
    if (e.event === 'pad-added') pads.set(e.pad, 0);
    else if (e.event === 'pad-removed') { pads.delete(e.pad); child.removed.push(e.pad); }
    else if (e.event === 'buffers' && pads.has(e.pad)) pads.set(e.pad, e.count);
  });
  child.pads = pads;
  child.removed = [];
  ctx.pipelines.set(name, child);
  return child;
}

// Waits until the pipeline `name` has a video pad for exactly `others`, each
// having received at least `frames` more frames than at the start.
async function receives (name, others, frames = 30) {
  const c = ctx.pipelines.get(name);
  const start = new Map(c.pads);
  const want = others.map((o) => `video_${o}_0`).sort();
  await waitFor(`${name} to receive video from ${others.join(', ')}`, () => {
    if (c.exitCode !== null || c.signalCode !== null) throw new Error(`${name} exited (${c.exitCode ?? c.signalCode})`);
    const video = [...c.pads.keys()].filter((p) => p.startsWith('video_')).sort();
    const moving = want.every((p) => c.pads.has(p) && c.pads.get(p) - (start.get(p) ?? 0) >= frames);
    return { video, counts: Object.fromEntries(c.pads), ok: JSON.stringify(video) === JSON.stringify(want) && moving };
  }, MEDIA_MS);
}

// The page's tiles of other participants: their names, and whether each
// video decodes new frames and changes its picture over half a second.
function tiles () {
  return ctx.page.evaluate(async () => {
    const shot = (v) => {
      const c = document.createElement('canvas');
      c.width = 64; c.height = 48;
      const g = c.getContext('2d');
      g.drawImage(v, 0, 0, 64, 48);
      return g.getImageData(0, 0, 64, 48).data;
    };
    const figures = [...document.querySelectorAll('#tiles figure:not(.self)')];
    const before = figures.map((f) => {
      const v = f.querySelector('video');
      return { frames: v.getVideoPlaybackQuality().totalVideoFrames, pixels: v.videoWidth ? shot(v) : null };
    });
    await new Promise((r) => setTimeout(r, 500));
    return figures.map((f, i) => {
      const v = f.querySelector('video');
      const pixels = v.videoWidth ? shot(v) : null;
      let changed = 0;
      if (pixels && before[i].pixels) for (let k = 0; k < pixels.length; k++) changed += pixels[k] !== before[i].pixels[k];
      return {
        name: f.dataset.participant, width: v.videoWidth,
        newFrames: v.getVideoPlaybackQuality().totalVideoFrames - before[i].frames, changed,
      };
    });
  });
}

async function pageShows (names) {
  const want = [...names].sort();
  return waitFor(`the page to show moving video from ${names.join(', ')}`, async () => {
    const t = await tiles();
    const shown = t.map((x) => x.name).sort();
    return { tiles: t, ok: JSON.stringify(shown) === JSON.stringify(want) && t.every((x) => x.width > 0 && x.newFrames > 0 && x.changed > 0) };
  }, MEDIA_MS);
}

before(async () => {
  if (missing) return;
  ({ server: ctx.server, port: ctx.port } = await startServer('room-server'));
});

after(async () => {
  if (missing) return;
  await closeBrowser(ctx, 'room-page-console');
  for (const c of ctx.pipelines.values()) await stop(c, 'SIGINT').catch(() => {});
  ctx.pipelines.clear();
  if (ctx.server) {
    await stop(ctx.server);
    assert.equal(ctx.server.exitCode, 0, `the server exits cleanly on SIGTERM: ${ctx.server.log}`);
  }
  removeProfile(ctx);
});

test('three pipelines and a page in a room receive each other, and come and go',
  { skip: missing ?? false, timeout: 80000 }, () => withLogs(async () => {
    for (const n of ['alice', 'bob', 'carol']) participant(n);
    await Promise.all([
      receives('alice', ['bob', 'carol']), receives('bob', ['alice', 'carol']), receives('carol', ['alice', 'bob']),
    ]);

    await launchBrowser(ctx);
    await ctx.page.goto(`http://127.0.0.1:${ctx.port}/room.html?room=meet&name=dora`);
    await ctx.page.click('#join');
    await ctx.page.waitForFunction(() => /^in room "meet" as dora/.test(document.getElementById('status').textContent));
    await pageShows(['alice', 'bob', 'carol']);
    await Promise.all([
      receives('alice', ['bob', 'carol', 'dora']), receives('bob', ['alice', 'carol', 'dora']),
      receives('carol', ['alice', 'bob', 'dora']),
    ]);
    for (const n of ['alice', 'bob', 'carol']) {
      assert.ok(ctx.pipelines.get(n).pads.has('audio_dora_0'), `${n} has the page's audio too`);
    }
    await ctx.page.screenshot({ path: join(OUT, 'room.png') });

    // carol leaves: her pads go from the pipelines, her tile from the page.
    await stop(ctx.pipelines.get('carol'), 'SIGINT');
    ctx.pipelines.delete('carol');
    await Promise.all([receives('alice', ['bob', 'dora'], 10), receives('bob', ['alice', 'dora'], 10)]);
    await pageShows(['alice', 'bob']);
    assert.equal(await ctx.page.textContent('#status'), 'in room "meet" as dora: 2 other participants');

    // The room goes on: erin comes, and everyone gets her.
    participant('erin');
    await Promise.all([
      receives('erin', ['alice', 'bob', 'dora']), receives('alice', ['bob', 'dora', 'erin']),
      receives('bob', ['alice', 'dora', 'erin']),
    ]);
    await pageShows(['alice', 'bob', 'erin']);
    await ctx.page.screenshot({ path: join(OUT, 'room-after.png') });

    // The page leaves: its pads go.
    await ctx.page.click('#leave');
    await Promise.all([receives('alice', ['bob', 'erin'], 10), receives('erin', ['alice', 'bob'], 10)]);
    assert.ok(!ctx.pipelines.get('alice').pads.has('audio_dora_0'), 'the page\'s audio pad went too');
    assert.equal((await tiles()).length, 0);
  }));

// The server restarts (SIGKILL, then again on its port): the pipelines'
// signallers reconnect and join the room again, their sessions go on peer to
// peer and are claimed again, and nobody's pads go meanwhile; a newcomer then
// finds everyone, and everyone gets it.
test('the room goes on through a restart of the server', { skip: missing ?? false, timeout: 60000 }, () =>
  withLogs(async () => {
    const removed = () => [...ctx.pipelines.values()].map((c) => c.removed.length);
    const before = removed();
    ctx.server.kill('SIGKILL');
    await ctx.server.exited;
    ({ server: ctx.server } = await startServer('room-server-2', ['--port', String(ctx.port)]));
    participant('fay');
    await Promise.all([
      receives('fay', ['alice', 'bob', 'erin']), receives('alice', ['bob', 'erin', 'fay']),
      receives('bob', ['alice', 'erin', 'fay']), receives('erin', ['alice', 'bob', 'fay']),
    ]);
    assert.deepEqual(removed().slice(0, before.length), before, 'no pad went through the restart');
  }));
