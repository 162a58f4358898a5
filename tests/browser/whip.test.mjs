// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A real headless Chromium publishes its (fake) camera and microphone from the
// server's whip.html page over plain WHIP (fetch POST of the offer to
// /whip/NAME); a real gst-launch-1.0 pipeline watches the stream with
// rtcstreamsrc through the same server; the page's Stop DELETEs the session
// and the pipeline sees the stream end. Run by `meson test` (suite "browser"),
// or by hand:
//   RTCSTREAM_SIGNALLING=build/signalling/rtcstream-signalling \
//   GST_PLUGIN_PATH=build/plugins node --test tests/browser/whip.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  missing, run, stop, waitFor, watchStream, publishingPageSuite, playWhep,
} from './harness.mjs';

const MEDIA_MS = 30000;     // for the pipeline to receive its buffers
const FRAMES = 60;

const { ctx, withLogs } = publishingPageSuite('whip');
const pageStatus = () => ctx.page.textContent('#status');

test('whip.html publishes the camera over WHIP', { skip: missing ?? false, timeout: 30000 }, () =>
  withLogs(async () => {
    await ctx.page.goto(`http://127.0.0.1:${ctx.port}/whip.html?name=browser`);
    assert.equal(await ctx.page.inputValue('#name'), 'browser');
    await ctx.page.click('#publish');
    await ctx.page.waitForFunction(() =>
      document.getElementById('status').textContent === 'publishing "browser" over WHIP');
    const session = await ctx.page.evaluate(() => window.whip.session);
    assert.match(session, new RegExp(`^http://127\\.0\\.0\\.1:${ctx.port}/whip/browser/[0-9a-f]+$`));
  }));

test('rtcstreamsrc decodes what the page publishes', { skip: missing ?? false, timeout: 45000 }, () =>
  withLogs(async () => {
    ctx.consumer = watchStream(ctx.port, 'browser', { logName: 'whip-consumer', debug: 'rtcstreamsrc:4' });
    const c = ctx.consumer;
    await waitFor(`${FRAMES} video frames and audio in the pipeline`, () => {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`the pipeline exited (${c.exitCode ?? c.signalCode})`);
      return { ...c.counts, ok: c.counts.v >= FRAMES && c.counts.a > 0 };
    }, MEDIA_MS);
  }));

test('Stop deletes the session and the stream ends', { skip: missing ?? false, timeout: 30000 }, () =>
  withLogs(async () => {
    await ctx.page.click('#stop');
    await ctx.page.waitForFunction(() => document.getElementById('status').textContent === 'stopped');
    // The stream left the hub: its viewer gets end-of-stream and gst-launch exits.
    await waitFor('the pipeline to end', () => ctx.consumer.exitCode !== null, 20000);
    assert.equal(ctx.consumer.exitCode, 0, ctx.consumer.log);
    assert.equal(await pageStatus(), 'stopped');
    const reply = await fetch(`http://127.0.0.1:${ctx.port}/whip/browser`, { method: 'OPTIONS' });
    assert.equal(reply.status, 204);
    assert.equal(reply.headers.get('accept-post'), 'application/sdp');
  }));

// Chromium as a plain WHEP player (its own RTCPeerConnection and fetch, as
// WHEP players build them) asks for audio first, then video, from a stream
// that has only video: the server answers with the audio m-line inactive and
// the video plays. Such an offer once aborted the whole server.
test('Chromium plays a video-only stream over WHEP with an audio-first offer',
  { skip: missing ?? false, timeout: 45000 }, () =>
    withLogs(async () => {
      const producer = run('whep-producer', 'gst-launch-1.0', ['videotestsrc', 'is-live=true', '!',
        'video/x-raw,width=320,height=240', '!', 'rtcstreamsink',
        `uri=rtcstream://127.0.0.1:${ctx.port}/vonly`]);
      try {
        const url = `http://127.0.0.1:${ctx.port}/whep/vonly`;
        // Until the producer is listed the server answers 404.
        const status = await waitFor('an answer from the WHEP endpoint', () =>
          playWhep(ctx.page, url, ['audio', 'video']).then(({ status: code, answer }) => ({
            status: code, audio: /m=audio [1-9]/.test(answer) ? 'kept' : 'rejected',
            inactive: /m=audio[^]*?a=inactive[^]*?m=video/.test(answer), ok: code !== 404,
          })));
        assert.equal(status.status, 201, JSON.stringify(status));
        await waitFor('decoded video frames in Chromium', () => ctx.page.evaluate(() => {
          const n = window.whepVideo.getVideoPlaybackQuality().totalVideoFrames;
          return { frames: n, state: window.whepPc.connectionState, ok: n >= 30 };
        }), 30000);
        await ctx.page.evaluate(() => window.whepPc.close());
        assert.equal(ctx.server.exitCode, null, 'the server is still running');
      } finally {
        await stop(producer, 'SIGINT');
      }
    }));
