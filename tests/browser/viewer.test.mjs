// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A real headless Chromium plays streams that real gst-launch-1.0 pipelines
// publish with rtcstreamsink, through the real rtcstream-signalling server and
// the web page it serves. Run by `meson test` (suite "browser"), which sets
// RTCSTREAM_SIGNALLING and GST_PLUGIN_PATH; or by hand:
//   RTCSTREAM_SIGNALLING=build/signalling/rtcstream-signalling \
//   GST_PLUGIN_PATH=build/plugins node --test tests/browser/viewer.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  OUT, missing, run, stop, startServer, waitFor, launchBrowser, closeBrowser, removeProfile,
} from './harness.mjs';


function startProducer (port, name, sinkProps = '') {
  const pipeline = `videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 `
    + `! rtcstreamsink name=sink ${sinkProps} uri=rtcstream://127.0.0.1:${port}/${name} `
    + `audiotestsrc is-live=true ! sink.audio_0`;
  // Debug logs of the elements go to out/producer-NAME.log.
  const debug = process.env.GST_DEBUG || 'rtcstreamsink:5,rtcstream-session:5,webrtcbin:4';
  return run(`producer-${name}`, 'gst-launch-1.0', pipeline.split(/\s+/).filter(Boolean),
    { GST_DEBUG: debug });
}

// What the page's RTCPeerConnection for `name` reports.
function stats (page, name) {
  return page.evaluate(async (stream) => {
    const viewer = window.rtcstream.viewers.get(stream);
    if (!viewer) return null;
    const out = { state: viewer.pc.connectionState, video: null, audio: null,
      element: { width: viewer.video.videoWidth, time: viewer.video.currentTime } };
    const report = await viewer.pc.getStats();
    report.forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      out[r.kind] = {
        codec: r.codecId ? report.get(r.codecId)?.mimeType : undefined,
        packetsReceived: r.packetsReceived, framesDecoded: r.framesDecoded,
        frameWidth: r.frameWidth, frameHeight: r.frameHeight,
        totalSamplesReceived: r.totalSamplesReceived,
      };
    });
    return out;
  }, name);
}

const ctx = { logs: [] };

function diagnostics () {
  return [
    `(full logs in ${OUT})`,
    '--- page console ---', ...ctx.logs.slice(-40),
    '--- server ---', ctx.server?.log ?? '',
    '--- producer cam ---', ctx.vp8?.log ?? '',
    '--- producer cam264 ---', ctx.h264?.log ?? '',
  ].join('\n');
}

async function playsWell (name, mimeType) {
  await ctx.page.click(`#streams button[data-stream="${name}"]`);
  try {
    const s = await waitFor(`${name}: 90 decoded ${mimeType} frames of 320 pixels and audio`, async () => {
      const st = await stats(ctx.page, name);
      const ok = st?.video?.framesDecoded > 90 && st.video.frameWidth === 320
        && st.audio?.packetsReceived > 0 && st.audio.totalSamplesReceived > 0;
      return st && { ...st, ok };
    });
    assert.equal(s.video.codec, mimeType);
    assert.equal(s.video.frameHeight, 240);
    assert.equal(s.element.width, 320);
    assert.ok(s.element.time > 0, 'the <video> element plays');
    return s;
  } catch (err) {
    err.message += `\n${diagnostics()}`;
    throw err;
  }
}

// What the stats overlay of the tile `name` shows, once it shows `codec`,
// 320x240, a bitrate above 0, and the latency: Chromium's playout delay (its
// jitter buffer's time per frame), that the producer sends the playout-delay
// extension (rtcstreamsink does by default), the sender-to-screen delay
// and glass to glass (producer and browser share this host's clock).
async function overlayShows (name, codec) {
  try {
    const o = await waitFor(`${name}: the stats overlay to show ${codec}, 320x240, a bitrate and the latency`, () =>
      ctx.page.$eval(`.tile[data-stream="${name}"] .stats`, (e) => {
        const cell = (key) => e.querySelector(`[data-stat="${key}"]`).textContent;
        return {
          text: e.textContent,
          visible: e.checkVisibility(),
          bitrate: Number(cell('bitrate')),
          playout: cell('playout'),
          extension: cell('extension'),
          e2e: cell('e2e'),
          g2g: cell('g2g'),
          sparklines: e.querySelectorAll('canvas').length,
          // The received bitrate's plot: the values it drew, and its pixels
          // that are not transparent.
          plot: (() => {
            const c = e.querySelector('canvas[data-plot="bitrate"]');
            if (!c) return null;
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let inked = 0;
            for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
            return { points: Number(c.dataset.points), inked, title: c.title };
          })(),
        };
      }).then((o) => ({
        ...o, ok: o.visible && o.text.includes(codec) && o.text.includes('320x240') && o.bitrate > 0
          && o.playout !== '–' && o.extension !== '–' && o.e2e !== '–' && o.g2g !== '–'
          && o.plot?.points >= 2,
      }), () => null));
    assert.ok(o.sparklines >= 5, 'the numbers have sparklines');
    // The received bitrate is plotted: a line drawn, over a range from 0.
    assert.ok(o.plot.inked > 0, `the bitrate plot drew ${o.plot.inked} pixels`);
    assert.match(o.plot.title, /^last \d+ s: 0 to \d/, 'the bitrate plot starts at 0');
    assert.equal(o.extension, 'sent', 'the producer sends the playout-delay extension');
    // Playout and sender-to-screen delay in ms: numbers, and sane on one host.
    assert.ok(Number(o.playout) >= 0 && Number(o.playout) < 500, `playout delay ${o.playout}`);
    assert.ok(Number(o.e2e) >= 0 && Number(o.e2e) < 1000, `sender to screen ${o.e2e}`);
    // Glass to glass from the capture times the producer sends.
    assert.ok(Number(o.g2g) > 0 && Number(o.g2g) < 1000, `glass to glass ${o.g2g}`);
    console.log(`${name}: overlay: playout ${o.playout} ms, extension ${o.extension}, `
      + `sender to screen ${o.e2e} ms, glass to glass ${o.g2g} ms; bitrate plot: `
      + `${o.plot.points} values, ${o.plot.title}`);
    return o;
  } catch (err) {
    err.message += `\n${diagnostics()}`;
    throw err;
  }
}

before(async () => {
  if (missing) return;
  ({ server: ctx.server, port: ctx.port } = await startServer('server'));
  ctx.vp8 = startProducer(ctx.port, 'cam');
  ctx.h264 = startProducer(ctx.port, 'cam264', 'video-codecs=H264');
  await launchBrowser (ctx);
});

after(async () => {
  if (!missing) await closeBrowser(ctx, 'page-console');
  for (const c of [ctx.vp8, ctx.h264]) if (c) await stop(c, 'SIGINT');
  if (ctx.server) {
    await stop(ctx.server);
    assert.equal(ctx.server.exitCode, 0, `the server exits cleanly on SIGTERM: ${ctx.server.log}`);
  }
  removeProfile(ctx);
});

test('the page lists the live streams', { skip: missing ?? false, timeout: 30000 }, async () => {
  await ctx.page.goto(`http://127.0.0.1:${ctx.port}/`);
  for (const name of ['cam', 'cam264']) {
    await ctx.page.waitForSelector(`#streams button[data-stream="${name}"]`)
      .catch((err) => { err.message += `\n${diagnostics()}`; throw err; });
  }
});

test('Chromium plays a VP8 stream with audio', { skip: missing ?? false, timeout: 30000 }, async () => {
  await playsWell('cam', 'video/VP8');
  // Its stats overlay is on by default.
  await overlayShows('cam', 'VP8');
});

test('Chromium plays an H264 stream next to it', { skip: missing ?? false, timeout: 30000 }, async () => {
  await playsWell('cam264', 'video/H264');
  // Both keep playing side by side.
  const before = (await stats(ctx.page, 'cam')).video.framesDecoded;
  await waitFor('cam to keep decoding', async () =>
    (await stats(ctx.page, 'cam')).video.framesDecoded > before + 15);
  await overlayShows('cam', 'VP8');
  await overlayShows('cam264', 'H264');
  await ctx.page.screenshot({ path: join(OUT, 'viewer.png') });

  // The stats button hides that tile's overlay, and shows it again.
  const overlay = ctx.page.locator('.tile[data-stream="cam264"] .stats');
  await ctx.page.click('.tile[data-stream="cam264"] button:text("stats")');
  await overlay.waitFor({ state: 'hidden' });
  assert.ok(await ctx.page.locator('.tile[data-stream="cam"] .stats').isVisible());
  await ctx.page.click('.tile[data-stream="cam264"] button:text("stats")');
  await overlayShows('cam264', 'H264');

  // The unmute button unmutes that tile only.
  await ctx.page.click('.tile[data-stream="cam264"] button:text("unmute")');
  const muted = await ctx.page.$$eval('.tile video', (vs) => vs.map((v) => v.muted));
  assert.deepEqual(muted, [true, false]);
});

// The link the demo prints: /?stream=NAME plays that stream by itself, muted
// (browsers autoplay only muted media), with no click; the list stays.
test('/?stream=NAME plays that stream without a click', { skip: missing ?? false, timeout: 30000 }, async () => {
  const page = await ctx.browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${ctx.port}/?stream=cam264`);
    await page.waitForSelector('#streams button[data-stream="cam"]');
    const frames = () => page.evaluate(() =>
      [...document.querySelectorAll('.tile video')].map((v) => v.getVideoPlaybackQuality().totalVideoFrames));
    const first = await waitFor('the linked stream to decode 30 frames', async () => {
      const f = await frames();
      return { frames: f, ok: f.length === 1 && f[0] >= 30 };
    });
    await waitFor('it to keep decoding', async () => {
      const f = await frames();
      return { frames: f, ok: f[0] >= first.frames[0] + 15 };
    });
    const tiles = await page.$$eval('.tile', (ts) => ts.map((t) => ({
      stream: t.dataset.stream, muted: t.querySelector('video').muted,
      paused: t.querySelector('video').paused,
    })));
    assert.deepEqual(tiles, [{ stream: 'cam264', muted: true, paused: false }], 'only the linked stream plays');
    assert.equal(await page.title(), 'rtcstream: cam264');
  } catch (err) {
    err.message += `\n${diagnostics()}`;
    throw err;
  } finally {
    await page.close();
  }
});

// A link to a stream that is not live yet says so, and plays it once it is.
test('/?stream=NAME waits for a stream that is not live yet', { skip: missing ?? false, timeout: 45000 }, async () => {
  const page = await ctx.browser.newPage();
  let late = null;
  try {
    await page.goto(`http://127.0.0.1:${ctx.port}/?stream=late`);
    await page.waitForFunction(() => document.getElementById('waiting').textContent === 'waiting for "late" to go live');
    late = startProducer(ctx.port, 'late');
    await waitFor('the late stream to play', async () => {
      const f = await page.evaluate(() =>
        [...document.querySelectorAll('.tile video')].map((v) => v.getVideoPlaybackQuality().totalVideoFrames));
      return { frames: f, ok: f.length === 1 && f[0] >= 30 };
    });
    assert.equal(await page.textContent('#waiting'), '');
  } catch (err) {
    err.message += `\n${diagnostics()}\n--- producer late ---\n${late?.log ?? ''}`;
    throw err;
  } finally {
    await page.close();
    if (late) await stop(late, 'SIGINT');
  }
});

test('a stream that ends leaves the list and the grid', { skip: missing ?? false, timeout: 30000 }, async () => {
  await stop(ctx.vp8, 'SIGKILL');
  await ctx.page.waitForSelector('#streams button[data-stream="cam"]', { state: 'detached' });
  await ctx.page.waitForSelector('.tile[data-stream="cam"]', { state: 'detached' });
  assert.equal(await ctx.page.locator('#streams button[data-stream="cam264"]').count(), 1);
  assert.equal(await ctx.page.locator('.tile[data-stream="cam264"]').count(), 1);
});

// A server started with --ice-server and --turn-secret hands the page its
// STUN/TURN servers in the welcome, with a TURN user of this connection's
// own (EXPIRY:PEER-ID) and its HMAC credential; rtcstream.js puts them into
// the RTCPeerConnection configuration of every viewer and publisher.
test('the page takes the STUN/TURN servers the server hands out', { skip: missing ?? false, timeout: 30000 }, async () => {
  const { server, port } = await startServer('server-ice', ['--ice-server', 'stun:127.0.0.1:3478',
    '--ice-server', 'turn:127.0.0.1:3478?transport=udp', '--turn-secret', 'north-wind']);
  const page = await ctx.browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => window.rtcstream?.client?.peerId);
    const { peerId, iceServers } = await page.evaluate(() => ({
      peerId: window.rtcstream.client.peerId,
      iceServers: window.rtcstream.client.rtcConfig.iceServers,
    }));
    assert.equal(iceServers.length, 2);
    assert.deepEqual(iceServers[0], { urls: ['stun:127.0.0.1:3478'] });
    assert.deepEqual(iceServers[1].urls, ['turn:127.0.0.1:3478?transport=udp']);
    const [expiry, who] = iceServers[1].username.split(':');
    assert.equal(who, peerId);
    const inADay = Date.now() / 1000 + 86400;
    assert.ok(Math.abs(Number(expiry) - inADay) < 60, `expiry ${expiry} is about a day ahead`);
    assert.match(iceServers[1].credential, /^[A-Za-z0-9+/]{27}=$/, 'a base64 HMAC-SHA1');
    // A browser accepts that configuration as it is.
    const accepted = await page.evaluate((servers) => {
      const pc = new RTCPeerConnection({ iceServers: servers });
      const n = pc.getConfiguration().iceServers.length;
      pc.close();
      return n;
    }, iceServers);
    assert.equal(accepted, 2);
  } finally {
    await page.close();
    await stop(server);
  }
  assert.equal(server.exitCode, 0, `the server exits cleanly on SIGTERM: ${server.log}`);
});
