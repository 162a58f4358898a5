// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A real headless Chromium publishes its (fake) camera and microphone from the
// server's publish.html page; a real gst-launch-1.0 pipeline watches it with
// rtcstreamsrc, through the real rtcstream-signalling server. Run by `meson test`
// (suite "browser"), which sets RTCSTREAM_SIGNALLING and GST_PLUGIN_PATH; or by hand:
//   RTCSTREAM_SIGNALLING=build/signalling/rtcstream-signalling \
//   GST_PLUGIN_PATH=build/plugins node --test tests/browser/publish.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  OUT, missing, stop, waitFor, watchStream, publishingPageSuite,
} from './harness.mjs';

const MEDIA_MS = 30000;     // for the pipeline to receive its buffers

const { ctx, withLogs } = publishingPageSuite('publish', ', GStreamer debug in publish-consumer-debug.log');
const pageStatus = () => ctx.page.textContent('#status');

test('the page publishes the camera under ?name=', { skip: missing ?? false, timeout: 30000 }, () =>
  withLogs(async () => {
    await ctx.page.goto(`http://127.0.0.1:${ctx.port}/publish.html?name=webcam`);
    assert.equal(await ctx.page.inputValue('#name'), 'webcam');
    await ctx.page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
    await ctx.page.click('#publish');
    await ctx.page.waitForFunction(() =>
      document.getElementById('status').textContent === 'publishing "webcam": 0 viewers');
    await ctx.page.waitForFunction(() => document.getElementById('preview').videoWidth > 0);
  }));

test('a second page cannot take the same name', { skip: missing ?? false, timeout: 30000 }, () =>
  withLogs(async () => {
    const page = await ctx.browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${ctx.port}/publish.html?name=webcam`);
      await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
      await page.click('#publish');
      await page.waitForFunction(() => /^error: .*taken/.test(document.getElementById('status').textContent));
      assert.equal(await page.isDisabled('#publish'), false);
    } finally {
      await page.close();
    }
  }));

test('rtcstreamsrc receives the video and audio', { skip: missing ?? false, timeout: 45000 }, () =>
  withLogs(async () => {
    ctx.consumer = watchStream(ctx.port, 'webcam', { logName: 'publish-consumer' });
    const c = ctx.consumer;
    await waitFor('90 video buffers and audio in the pipeline', () => {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`the pipeline exited (${c.exitCode ?? c.signalCode})`);
      return { ...c.counts, caps: c.caps, ok: c.counts.v >= 90 && c.counts.a > 0 && !!c.caps };
    }, MEDIA_MS);
    assert.match(c.caps, /width=\(int\)[1-9]\d*/, 'the video caps have a width');
    await ctx.page.waitForFunction(() =>
      document.getElementById('status').textContent === 'publishing "webcam": 1 viewer');
    await ctx.page.screenshot({ path: join(OUT, 'publish.png') });
  }));

// What Chromium offers for H264 (several profile-level-ids, packetization-mode
// 0 and 1) and VP9: the pipeline that prefers them gets them.
for (const codec of ['H264', 'VP9']) {
  test(`rtcstreamsrc video-codecs=${codec} receives ${codec} from Chromium`, { skip: missing ?? false, timeout: 45000 }, () =>
    withLogs(async () => {
      const c = watchStream(ctx.port, 'webcam', { props: `video-codecs=${codec}`, logName: `publish-consumer-${codec}` });
      try {
        await waitFor(`60 ${codec} video buffers in the pipeline`, () => {
          if (c.exitCode !== null || c.signalCode !== null) throw new Error(`the pipeline exited (${c.exitCode ?? c.signalCode}): ${c.log}`);
          return { ...c.counts, codec: c.rtpCodec, ok: c.counts.v >= 60 && !!c.rtpCodec };
        }, MEDIA_MS).catch((err) => { err.message += `\n--- pipeline output ---\n${c.log}`; throw err; });
        assert.equal(c.rtpCodec, codec);
      } finally {
        await stop(c, 'SIGINT');
      }
    }));
}

test('the page counts 0 viewers once the pipeline stops', { skip: missing ?? false, timeout: 30000 }, () =>
  withLogs(async () => {
    await stop(ctx.consumer, 'SIGINT');
    await ctx.page.waitForFunction(() =>
      document.getElementById('status').textContent === 'publishing "webcam": 0 viewers');
    assert.equal(await pageStatus(), 'publishing "webcam": 0 viewers');
  }));
