// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Signalling loss is not media loss, in the browser (issue 12, item 1): the
// server is SIGKILLed under a page that watches a pipeline's stream and
// publishes its camera to a pipeline, and restarted on the same port. The
// media goes on both ways meanwhile; rtcstream.js reconnects, the page's
// stream is listed again, its sessions are claimed (resumeSession), and a
// new pipeline can watch the page's camera through the restarted server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  missing, run, stop, startServer, waitFor, launchBrowser, closeBrowser, removeProfile,
  watchStream, withDiagnostics,
} from './harness.mjs';

const ctx = { logs: [] };
const withLogs = withDiagnostics(ctx, () => [['producer', ctx.producer], ['viewer of the page', ctx.viewer],
  ['second viewer', ctx.viewer2]]);

// Frames the page decoded of the pipeline's stream "cam".
function pageFrames () {
  return ctx.page.evaluate(async () => {
    const viewer = window.rtcstream.viewers.get('cam');
    if (!viewer || viewer.ended) return -1;
    let frames = 0;
    (await viewer.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') frames = r.framesDecoded;
    });
    return frames;
  });
}

before(async () => {
  if (missing) return;
  ({ server: ctx.server, port: ctx.port } = await startServer('reconnect-server'));
  ctx.producer = run('reconnect-producer', 'gst-launch-1.0', ['videotestsrc', 'is-live=true', '!',
    'video/x-raw,width=320,height=240,framerate=30/1', '!', 'rtcstreamsink',
    `uri=rtcstream://127.0.0.1:${ctx.port}/cam`]);
  await launchBrowser(ctx);
});

after(async () => {
  if (missing) return;
  await closeBrowser(ctx, 'reconnect-page-console');
  for (const c of [ctx.viewer, ctx.viewer2, ctx.producer]) if (c) await stop(c, 'SIGINT');
  if (ctx.server) await stop(ctx.server);
  removeProfile(ctx);
});

test('a page keeps watching and publishing while the server restarts, then reconnects',
  { skip: missing ?? false, timeout: 120000 }, () => withLogs(async () => {
    await ctx.page.goto(`http://127.0.0.1:${ctx.port}/?stream=cam`);
    await waitFor('the page to play "cam"', async () => (await pageFrames()) > 30);
    // The page also publishes its (fake) camera as "webcam", a pipeline watching it.
    await ctx.page.evaluate(async () => {
      const media = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
      window.webcam = await window.rtcstream.client.publish('webcam', media);
    });
    ctx.viewer = watchStream(ctx.port, 'webcam', { logName: 'reconnect-viewer', audio: false });
    await waitFor('the pipeline to get the page\'s camera', () => ctx.viewer.counts.v > 30);

    // The server dies without a word (no close frame): both sides go on.
    ctx.server.kill('SIGKILL');
    await waitFor('the page to say it reconnects', () => ctx.page.$eval('#status', (e) => e.textContent)
      .then((t) => t.includes('reconnecting') && t));
    const page0 = await pageFrames(), pipeline0 = ctx.viewer.counts.v;
    await new Promise((r) => setTimeout(r, 3000));
    const page1 = await pageFrames(), pipeline1 = ctx.viewer.counts.v;
    console.log(`without a server for 3 s: the page decoded ${page1 - page0} frames, `
      + `the pipeline got ${pipeline1 - pipeline0} of the page's`);
    assert.ok(page1 - page0 >= 45, `the page plays on without a server: ${page0} -> ${page1}`);
    assert.ok(pipeline1 - pipeline0 >= 30, `the page's camera goes on: ${pipeline0} -> ${pipeline1}`);

    // The same port again.
    ({ server: ctx.server } = await startServer('reconnect-server-2', ['--port', String(ctx.port)]));
    await waitFor('the page to be connected again', () => ctx.page.$eval('#status', (e) => e.textContent)
      .then((t) => t.includes('again') && t));
    // Both streams are listed again: the pipeline's and the page's own.
    const names = await waitFor('both streams listed again', () => ctx.page.evaluate(async () => {
      const list = await window.rtcstream.client.listStreams();
      const n = list.map((s) => s.name).sort();
      return n.includes('cam') && n.includes('webcam') && n;
    }));
    assert.deepEqual(names, ['cam', 'webcam']);
    const state = await ctx.page.evaluate(() => ({
      watching: !window.rtcstream.viewers.get('cam').ended,
      publishing: !window.webcam.ended && window.webcam.viewers,
    }));
    assert.deepEqual(state, { watching: true, publishing: 1 }, 'the sessions went on');
    const page2 = await pageFrames();
    await waitFor('the page to play on', async () => (await pageFrames()) > page2 + 30);

    // A new viewer of the page's camera, through the restarted server.
    ctx.viewer2 = watchStream(ctx.port, 'webcam', { logName: 'reconnect-viewer-2', audio: false });
    await waitFor('a new pipeline to get the page\'s camera', () => ctx.viewer2.counts.v > 30);
    assert.equal(await ctx.page.evaluate(() => window.webcam.viewers), 2);
  }));
