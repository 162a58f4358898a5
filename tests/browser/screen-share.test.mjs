// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Screen sharing with remote control (issue 13): examples/screen-share.cpp
// shares an Xvfb desktop (ximagesrc) through the real server; headless
// Chromium watches it on the server's page; a click and a key on the <video>
// become real X input (XTest) while the sharer grants control, and nothing
// while it is revoked. What reached the display is read by x-input-watch, an
// X client covering the screen (tests/browser/x-input-watch.cpp), and the
// pointer's place by xdotool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  OUT, missing as missingBase, run, stop, startServer, waitFor, launchBrowser, closeBrowser,
  removeProfile,
} from './harness.mjs';

const SHARE = process.env.RTCSTREAM_SCREEN_SHARE;
const WATCH = process.env.RTCSTREAM_X_INPUT_WATCH;
const missing = missingBase
  ?? (SHARE && WATCH ? null : 'the screen-share example was not built (no libx11/libxtst)')
  ?? (existsSync('/usr/bin/Xvfb') ? null : 'Xvfb is missing: apt-get install xvfb')
  ?? (existsSync('/usr/bin/xdotool') ? null : 'xdotool is missing: apt-get install xdotool');
const ctx = { logs: [], share: [], x: [] };
const W = 640, H = 480;

function diagnostics () {
  return [
    `(full logs in ${OUT})`,
    '--- page console ---', ...ctx.logs.slice(-20),
    '--- screen-share ---', ...ctx.share.slice(-30),
    '--- x-input-watch ---', ...ctx.x.slice(-30),
    '--- screen-share log ---', ctx.app?.log ?? '',
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

// A display number no X server uses here.
function freeDisplay () {
  for (let n = 90; n < 200; n++)
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return n;
  throw new Error('no free X display number');
}

// Clicks the tile's <video> at a share of its width and height.
async function clickVideo (fx, fy) {
  const box = await ctx.page.locator('.tile[data-stream="screen"] video').boundingBox();
  await ctx.page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
}

const presses = () => ctx.x.filter((l) => l.startsWith('press '));

before(async () => {
  if (missing) return;
  const n = freeDisplay();
  ctx.display = `:${n}`;
  ctx.xvfb = run('screen-xvfb', '/usr/bin/Xvfb', [ctx.display, '-screen', '0', `${W}x${H}x24`, '-nolisten', 'tcp']);
  await waitFor('Xvfb', () => existsSync(`/tmp/.X11-unix/X${n}`));
  const env = { DISPLAY: ctx.display };
  ctx.watch = run('screen-x-input-watch', WATCH, [], env, (l) => ctx.x.push(l));
  await waitFor('x-input-watch to cover the screen', () => ctx.x.includes(`ready ${W} ${H}`));
  ({ server: ctx.server, port: ctx.port } = await startServer('screen-server'));
  ctx.app = run('screen-share', SHARE, [`rtcstream://127.0.0.1:${ctx.port}/screen`], env,
    (l) => ctx.share.push(l), { stdin: 'pipe' });
  await waitFor('the screen to be published', () => ctx.share.includes('registered'));
  await launchBrowser(ctx, { fakeMedia: false });
});

after(async () => {
  if (!missing) await closeBrowser(ctx, 'screen-share-page-console');
  for (const c of [ctx.app, ctx.server, ctx.watch, ctx.xvfb])
    if (c) await stop(c);
  removeProfile(ctx);
});

test('a viewer controls the shared desktop while the sharer grants it', { skip: missing ?? false, timeout: 60000 }, async () => {
  await step('open the page', () => ctx.page.goto(`http://127.0.0.1:${ctx.port}/?stream=screen`));
  // The control state the sharer announces, as the page receives it.
  await ctx.page.evaluate(() => { window.controlMessages = []; });
  await step('play', () => waitFor('the desktop to play with the input channel open', async () => {
    const s = await ctx.page.evaluate(async () => {
      const v = window.rtcstream.viewers.get('screen');
      if (!v) return null;
      if (!v.controlWatched) {
        v.controlWatched = true;
        v.addEventListener('message', (e) => window.controlMessages.push(e.detail));
      }
      let framesDecoded = 0;
      (await v.pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') framesDecoded = r.framesDecoded;
      });
      return { framesDecoded, width: v.video.videoWidth, navigation: v.navigation !== null };
    });
    return s && { ...s, ok: s.framesDecoded > 5 && s.width === 640 && s.navigation };
  }));

  // Revoked (the default): the click is refused by the sharer, X sees nothing.
  await clickVideo(0.25, 0.75);
  await step('refused', () => waitFor('the sharer to ignore the click', () =>
    ctx.share.some((l) => /^ignored mouse-button-press 1 at \d+,\d+ \(control revoked\)$/.test(l))));
  await sleep(500);
  assert.equal(presses().length, 0, 'a click reached X while control was revoked');

  // Granted: the same click is a real X click where the viewer clicked.
  ctx.app.stdin.write('grant\n');
  await step('granted', () => waitFor('the page to hear control granted', async () =>
    (await ctx.page.evaluate(() => window.controlMessages)).includes('{"control":"granted"}')));
  await clickVideo(0.25, 0.75);
  const press = await step('click', () => waitFor('a button press on the X display', () => presses()[0]));
  const [, button, x, y] = press.split(' ').map(Number);
  assert.equal(button, 1);
  assert.ok(Math.abs(x - W * 0.25) <= 3 && Math.abs(y - H * 0.75) <= 3,
    `X got the press at (${x}, ${y}); the viewer clicked (${W * 0.25}, ${H * 0.75}) of ${W}x${H}`);
  await step('release', () => waitFor('the release', () => ctx.x.some((l) => l.startsWith('release 1 '))));
  const pointer = execFileSync('/usr/bin/xdotool', ['getmouselocation'], { env: { ...process.env, DISPLAY: ctx.display } }).toString();
  assert.match(pointer, new RegExp(`^x:(${x - 1}|${x}|${x + 1}) y:(${y - 1}|${y}|${y + 1}) `), pointer);
  // The click focused the video: keys go to the desktop too.
  await ctx.page.keyboard.press('a');
  await step('key', () => waitFor('key a on the X display', () => ctx.x.includes('key a')));
  await ctx.page.screenshot({ path: join(OUT, 'screen-share.png') });

  // Revoked again: clicks stop reaching X.
  ctx.app.stdin.write('revoke\n');
  await step('revoked', () => waitFor('the page to hear control revoked', async () =>
    (await ctx.page.evaluate(() => window.controlMessages)).includes('{"control":"revoked"}')));
  const before = presses().length;
  const ignoredBefore = ctx.share.filter((l) => l.startsWith('ignored mouse-button-press')).length;
  await clickVideo(0.5, 0.5);
  await step('refused again', () => waitFor('the sharer to ignore the click', () =>
    ctx.share.filter((l) => l.startsWith('ignored mouse-button-press')).length > ignoredBefore));
  await sleep(500);
  assert.equal(presses().length, before, 'a click reached X after control was revoked');
});
