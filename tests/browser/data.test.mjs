// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Data streams between a browser and a pipeline, through the real server: a
// Chromium page publishes a data-only stream with rtcstream.js (50 MiB made in
// the page) and `gst-launch-1.0 rtcstreamsrc ! filesink` writes it to a file
// that must be the same bytes (sha256); then a gst-launch-1.0 line publishes
// a data stream with caps and timestamps and the page receives it. Run by
// `meson test` (suite "browser"), or by hand:
//   RTCSTREAM_SIGNALLING=build/signalling/rtcstream-signalling \
//   GST_PLUGIN_PATH=build/plugins node --test tests/browser/data.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  OUT, missing, run, exitsWithin, publishingPageSuite,
} from './harness.mjs';

const SIZE = 50 * 1024 * 1024;
const COPY_MS = 60000;  // a bound, never reached when it works (a few seconds)

const { ctx, withLogs } = publishingPageSuite('data');

test('a page publishes 50 MiB that rtcstreamsrc ! filesink writes exactly', { skip: missing ?? false, timeout: 90000 }, () =>
  withLogs(async () => {
    await ctx.page.goto(`http://127.0.0.1:${ctx.port}/`);
    await ctx.page.evaluate(async () => {
      const { publish } = await import('/rtcstream.js');
      window.publisher = await publish('page-file', new MediaStream(), undefined, {
        dataStreams: [{ name: 'data_0', caps: 'application/octet-stream' }],
      });
    });
    const file = join(OUT, 'data-copy.bin');
    rmSync(file, { force: true });
    ctx.consumer = run('data-consumer', 'gst-launch-1.0', ['rtcstreamsrc',
      `uri=rtcstream://127.0.0.1:${ctx.port}/page-file`, '!', 'filesink', `location=${file}`]);
    // In the page: 1 MiB buffers of a xorshift stream, written as fast as the
    // stream takes them, then EOS; the page's own sha256 of what it sent.
    const sent = await ctx.page.evaluate(async (size) => {
      const stream = window.publisher.dataStream('data_0');
      const all = new Uint8Array(size);
      let x = 0x12345678;
      for (let i = 0; i < size; i++) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
        all[i] = x & 0xff;
      }
      const start = performance.now();
      for (let off = 0; off < size; off += 1 << 20) {
        await stream.write(all.subarray(off, Math.min(size, off + (1 << 20))));
      }
      await stream.end();
      const ms = performance.now() - start;
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
      return { ms, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
    }, SIZE);
    await exitsWithin(ctx.consumer, COPY_MS);
    assert.equal(ctx.consumer.exitCode, 0, ctx.consumer.log);
    const got = createHash('sha256').update(readFileSync(file)).digest('hex');
    assert.equal(got, sent.sha256, 'the file differs from what the page sent');
    console.log(`# 50 MiB from Chromium to gst-launch-1.0 in ${Math.round(sent.ms)} ms`);
    rmSync(file, { force: true });
    await ctx.page.evaluate(() => window.publisher.stop());
  }));

test('a page receives a pipeline\'s data stream of raw frames with their caps and timestamps', { skip: missing ?? false, timeout: 60000 }, () =>
  withLogs(async () => {
    // Raw video frames as data (not encoded): 100 of 160x160 I420, 10 ms apart.
    ctx.producer = run('data-producer', 'gst-launch-1.0', ['rtcstreamsink', 'name=s',
      `uri=rtcstream://127.0.0.1:${ctx.port}/frames`, 'videotestsrc', 'num-buffers=100', '!',
      'video/x-raw,format=I420,width=160,height=160,framerate=100/1', '!', 's.data_0']);
    const got = await ctx.page.evaluate(async () => {
      const { RtcStreamClient } = await import('/rtcstream.js');
      const client = new RtcStreamClient();
      await client.connect();
      for (let i = 0; i < 100 && !client.find('frames'); i++) {
        await client.listStreams();
        await new Promise((r) => setTimeout(r, 200));
      }
      const video = document.createElement('video');
      const viewer = await client.watch('frames', video);
      return await new Promise((resolve) => {
        const out = { caps: null, buffers: 0, bytes: 0, pts: [], eos: false };
        viewer.addEventListener('datastream', (e) => {
          const r = e.detail;
          out.name = r.name;
          r.addEventListener('caps', (c) => { out.caps = c.detail; });
          r.addEventListener('buffer', (b) => {
            out.buffers++;
            out.bytes += b.detail.data.length;
            if (out.pts.length < 3) out.pts.push(String(b.detail.pts));
          });
          r.addEventListener('eos', () => { out.eos = true; resolve(out); });
        });
        setTimeout(() => resolve(out), 40000);
      });
    });
    assert.equal(got.eos, true, JSON.stringify(got));
    assert.equal(got.name, 'data_0');
    assert.match(got.caps, /^video\/x-raw, .*width=\(int\)160/);
    assert.equal(got.buffers, 100);
    assert.equal(got.bytes, 100 * 160 * 160 * 3 / 2);
    assert.deepEqual(got.pts, ['0', '10000000', '20000000']);
    await exitsWithin(ctx.producer, 30000);
    assert.equal(ctx.producer.exitCode, 0, ctx.producer.log);
  }));
