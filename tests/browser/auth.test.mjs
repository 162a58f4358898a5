// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A server that needs tokens (docs/auth.md): headless Chromium opens the
// server's page with ?token=TOKEN (minted by rtcstream-signalling
// --mint-token) and plays a stream that gst-launch-1.0 publishes with
// auth-token; without a token, or with a badly signed one, the page shows
// a clear error and plays nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  missing, run, stop, startServer, waitFor, launchBrowser, closeBrowser, removeProfile,
  withDiagnostics,
} from './harness.mjs';

const ctx = { logs: [] };
const dir = mkdtempSync(join(tmpdir(), 'rtcstream-auth-'));
const secretFile = join(dir, 'secret');
writeFileSync(secretFile, 'browser-test-secret-of-at-least-32-bytes\n');

function mint (scopes) {
  const r = spawnSync(process.env.RTCSTREAM_SIGNALLING,
    ['--mint-token', scopes, '--token-secret-file', secretFile, '--ttl', '600'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const withLogs = withDiagnostics(ctx, () => [['producer', ctx.producer]]);

before(async () => {
  if (missing) return;
  ({ server: ctx.server, port: ctx.port } = await startServer('server-auth',
    ['--token-secret-file', secretFile]));
  const pipeline = 'videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 '
    + `! rtcstreamsink uri=rtcstream://127.0.0.1:${ctx.port}/cam auth-token=${mint('publish:cam')}`;
  ctx.producer = run('producer-auth', 'gst-launch-1.0', pipeline.split(/\s+/));
  await launchBrowser(ctx);
});

after(async () => {
  if (!missing) await closeBrowser(ctx, 'page-console-auth');
  if (ctx.producer) await stop(ctx.producer, 'SIGINT');
  if (ctx.server) {
    await stop(ctx.server);
    assert.equal(ctx.server.exitCode, 0, `the server exits cleanly on SIGTERM: ${ctx.server.log}`);
  }
  removeProfile(ctx);
  rmSync(dir, { recursive: true, force: true });
});

test('the page with ?token= plays the stream', { skip: missing ?? false, timeout: 40000 }, () => withLogs(async () => {
  await ctx.page.goto(`http://127.0.0.1:${ctx.port}/?stream=cam&token=${mint('watch:cam')}`);
  await waitFor('the stream to decode 30 frames', async () => {
    const f = await ctx.page.evaluate(() =>
      [...document.querySelectorAll('.tile video')].map((v) => v.getVideoPlaybackQuality().totalVideoFrames));
    return { frames: f, ok: f.length === 1 && f[0] >= 30 };
  });
  assert.equal(await ctx.page.$eval('#streams button', (b) => b.dataset.stream), 'cam');
}));

test('without a token the page says a token is needed', { skip: missing ?? false, timeout: 30000 }, () => withLogs(async () => {
  const page = await ctx.browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${ctx.port}/?stream=cam`);
    const status = await waitFor('the page to show the error', async () => {
      const text = await page.$eval('#status', (e) => e.textContent);
      return { text, ok: text.includes('needs a token') && text.includes('?token=TOKEN') };
    });
    assert.match(status.text, /^error: /);
    assert.equal(await page.$$eval('.tile', (t) => t.length), 0, 'nothing plays');

    // A badly signed token: refused at connection, and the page says why.
    // (The signature's first character: every bit of it is data.)
    const forged = mint('watch:cam').replace(/\.([^.])([^.]*)$/,
      (_, c, rest) => `.${c === 'A' ? 'B' : 'A'}${rest}`);
    await page.goto(`http://127.0.0.1:${ctx.port}/?stream=cam&token=${forged}`);
    await waitFor('the page to show the refusal', async () => {
      const text = await page.$eval('#status', (e) => e.textContent);
      return { text, ok: text.includes('signature is wrong') };
    });
  } finally {
    await page.close();
  }
}));
