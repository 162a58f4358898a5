// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A support call (support.html, a room of two): one page shares its screen,
// camera and microphone (Chromium's fake screen capture and fake devices),
// the other watches the screen with the camera in a corner and talks back
// with its microphone. Each side checks what it receives: the helper two
// moving videos, the sharer the helper's voice. Then the helper hangs up and
// the sharer waits again. Screenshots: out/support-helper.png, out/support-sharer.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  OUT, missing, startServer, stop, waitFor, launchBrowser, closeBrowser, removeProfile, withDiagnostics,
} from './harness.mjs';

const MEDIA_MS = 30000;
const ctx = { logs: [] };
const withLogs = withDiagnostics(ctx);

before(async () => {
  if (missing) return;
  ({ server: ctx.server, port: ctx.port } = await startServer('support-server'));
  await launchBrowser(ctx);
});

after(async () => {
  if (missing) return;
  await closeBrowser(ctx, 'support-page-console');
  if (ctx.server) {
    await stop(ctx.server);
    assert.equal(ctx.server.exitCode, 0, `the server exits cleanly on SIGTERM: ${ctx.server.log}`);
  }
  removeProfile(ctx);
});

// Frames decoded by the video #id, and whether its picture changes over 0.5 s.
function moving (page, id) {
  return page.evaluate(async (vid) => {
    const v = document.getElementById(vid);
    if (!v || !v.videoWidth) return { ok: false, why: 'no picture yet' };
    const shot = () => {
      const c = document.createElement('canvas');
      c.width = 64; c.height = 36;
      c.getContext('2d').drawImage(v, 0, 0, 64, 36);
      return c.getContext('2d').getImageData(0, 0, 64, 36).data;
    };
    const a = shot();
    const f0 = v.getVideoPlaybackQuality().totalVideoFrames;
    await new Promise((r) => setTimeout(r, 500));
    const b = shot();
    let changed = 0;
    for (let i = 0; i < a.length; i++) changed += a[i] !== b[i];
    const frames = v.getVideoPlaybackQuality().totalVideoFrames - f0;
    return { width: v.videoWidth, height: v.videoHeight, frames, changed, ok: frames > 0 && changed > 0 };
  }, id);
}

// Audio bytes the sharer received from the helper so far.
function voiceBytes (page) {
  return page.evaluate(async () => {
    const other = [...window.rtcstream.room.others.values()][0];
    if (!other?.viewer) return 0;
    let bytes = 0;
    (await other.viewer.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') bytes += r.bytesReceived;
    });
    return bytes;
  });
}

test('one page shares screen and camera, the other watches and talks back', { skip: missing ?? false, timeout: 70000 }, () =>
  withLogs(async () => {
    const sharer = ctx.page;
    await sharer.goto(`http://127.0.0.1:${ctx.port}/support.html?room=call1&name=customer`);
    await sharer.click('#share');
    await sharer.waitForFunction(() => /^sharing in call "call1": waiting/.test(document.getElementById('status').textContent));

    const helper = await ctx.browser.newPage();
    helper.on('console', (m) => ctx.logs.push(`helper ${m.type()}: ${m.text()}`));
    ctx.helper = helper;
    await helper.goto(`http://127.0.0.1:${ctx.port}/support.html?room=call1&name=agent`);
    await helper.click('#help');
    await helper.waitForFunction(() => document.getElementById('status').textContent ===
      'watching customer\'s screen in call "call1"; they hear you');
    // The screen (1280x720 from the fake capture) large, the camera in the corner.
    const screen = await waitFor('the helper to see the screen moving', () => moving(helper, 'screen'), MEDIA_MS);
    assert.ok(screen.width / screen.height > 1.5, `the screen is wide: ${JSON.stringify(screen)}`);
    await waitFor('the helper to see the camera moving', () => moving(helper, 'camera'), MEDIA_MS);
    await helper.screenshot({ path: join(OUT, 'support-helper.png') });

    await sharer.waitForFunction(() => document.getElementById('status').textContent ===
      'sharing with agent in call "call1"; you hear them');
    const first = await waitFor('the sharer to receive the helper\'s voice', async () => {
      const b = await voiceBytes(sharer);
      return { bytes: b, ok: b > 0 };
    }, MEDIA_MS);
    await waitFor('the voice to keep coming', async () => {
      const b = await voiceBytes(sharer);
      return { bytes: b, ok: b > first.bytes + 1000 };
    });
    assert.equal(await sharer.evaluate(() => document.getElementById('voice').srcObject?.getAudioTracks().length), 1);
    await sharer.screenshot({ path: join(OUT, 'support-sharer.png') });

    // The helper hangs up: the sharer waits for someone again.
    await helper.click('#hangup');
    await sharer.waitForFunction(() => /^sharing in call "call1": waiting/.test(document.getElementById('status').textContent));
    assert.equal(await helper.textContent('#status'), 'the call ended: hung up');
    await helper.close();
  }));
