// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Every command line of README.md, docs/*.md and examples/ (as extract.mjs
// finds them), keyed by the exact documented text, with what to check: what
// the text around the line says it does. doc.test.mjs fails on a documented
// line that has no entry here, and on an entry whose line is no longer
// documented.
//
// An entry is { lines: [documented text, ...], test (ctx) } or
// { lines, skip: 'why it cannot run here' }. Lines that only work together
// (a server, a publisher and a viewer of one block) share one entry. `todo`
// names a product defect that makes the line fail today (the test still runs
// and reports; node's test runner does not count it as a failure).
// `fixture` names a producer other entries watch: it is started once, on the
// shared server, and its own entry checks it and stops it after all others.
//
// ctx: { port (the shared rtcstream-signalling), fixture (name) -> child,
//        others (a promise: every entry but the fixtures' is done) }.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  ROOT, BUILD, TMP, MEDIA_MS, STEP_MS, substitute, startLine, waitRendered, waitOutput, interrupt, records,
  stop, exitsWithin, waitFor, startSignalling, startServerLine, checkServerServes, watched, discover,
  startCoturn, startJanus, makeCertificate, startEndpoint, newPage, pagePlays, noDisplay,
  browserMissing, freePort,
} from './runner.mjs';

const CAM = 'gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink uri=rtcstream://127.0.0.1:8443/cam';
const TESTSRC = 'examples/publish-testsrc.sh [HOST:PORT] [STREAM]';

// How the shared producers start. They also log their consumers and
// encoders (rtcstreamsink and its sessions at INFO), which a failing entry
// that watched them prints (doc.test.mjs).
const PRODUCER_LOG = { GST_DEBUG: 'basesink:6,rtcstreamsink:4,rtcstream-session:4' };
export const fixtures = {
  cam: { line: CAM, start: (ctx) => startLine('cam', substitute(CAM, { port: ctx.port }), { env: PRODUCER_LOG }) },
  test: {
    line: TESTSRC,
    start: (ctx) => startLine('testsrc', substitute(`examples/publish-testsrc.sh 127.0.0.1:${ctx.port}`),
      { env: PRODUCER_LOG }),
  },
};

// A consumer line against a producer: renders video (and audio), then Ctrl-C.
async function consumes (ctx, line, { port = ctx.port, video = 30, audio = 0, extra } = {}) {
  const c = startLine('consumer', substitute(line, { port, extra }));
  await waitRendered(c, { video, audio });
  await interrupt(c);
  return c;
}

// A producer line: a pipeline of ours watches its stream, then Ctrl-C.
async function produces (ctx, line, stream, { port = ctx.port, video = 30, audio = 0 } = {}) {
  const p = startLine(`producer-${stream}`, substitute(line, { port }));
  const seen = await watched(port, stream, { video, audio });
  await interrupt(p);
  return seen;
}

// A producer line and a consumer line of one block: the consumer renders
// what the producer publishes, then both stop on Ctrl-C.
async function pair (ctx, pub, sub, { port, extra, audio = 0 } = {}) {
  const p = startLine('producer', substitute(pub, { port, extra }));
  await consumes(ctx, sub, { port, extra, audio });
  await interrupt(p);
}

// A server line: it listens, serves the page, and exits 0 on Ctrl-C.
async function serves (line) {
  const s = await startServerLine('server', line);
  await checkServerServes(s);
  await interrupt(s);
  return s;
}

const needsDisplay = () => noDisplay();

export const entries = [
  // ---- README.md ---------------------------------------------------------------
  {
    lines: ['scripts/demo.sh',
      'then open http://127.0.0.1:8443/?stream=demo in a browser: it plays by itself (muted)'],
    skip: () => (BUILD !== join(ROOT, 'build') ? `scripts/demo.sh builds into ${ROOT}/build, this build is ${BUILD}` : null),
    test: async () => {
      // As written, with PORT set (8443 may be taken here); it installs
      // nothing (every package is there) and builds nothing new.
      const port = await freePort();
      const demo = startLine('demo', `${ROOT}/scripts/demo.sh`, { env: { PORT: String(port) } });
      const link = await waitOutput(demo, /Watch it in a browser: (http:\/\/\S+)/, 120000);
      assert.equal(link[1], `http://127.0.0.1:${port}/?stream=demo`);
      const page = await newPage();
      if (page) {
        await page.goto(link[1]);
        await pagePlays(page);                  // no click
        assert.equal(await page.evaluate(() => document.querySelector('video').muted), true);
        await page.close();
      } else {
        await watched(port, 'demo', { video: 30, audio: 10 });
      }
      await interrupt(demo, { eos: true });      // gst-launch -e: EOS, then the server goes too
    },
  },
  { lines: ['scripts/test.sh'], skip: 'runs every test (meson test), this one included' },
  {
    lines: ['rtcstream-signalling --port 8443', 'build/signalling/rtcstream-signalling --port 8443'],
    test: async () => { await serves('rtcstream-signalling --port 8443'); await serves('build/signalling/rtcstream-signalling --port 8443'); },
  },
  {
    lines: [CAM],
    fixture: 'cam',
    test: async (ctx) => {
      const p = await ctx.fixture('cam');
      await watched(ctx.port, 'cam', { video: 30 });
      await ctx.others;          // every line that watches cam is done
      await interrupt(p);
    },
  },
  {
    lines: ['gst-launch-1.0 rtcstreamsink name=s uri=rtcstream://127.0.0.1:8443/stage videotestsrc is-live=true ! s.video_0  audiotestsrc is-live=true ! s.audio_0'],
    test: (ctx, [line]) => produces(ctx, line, 'stage', { video: 30, audio: 10 }),
  },
  {
    lines: ['gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam ! videoconvert ! autovideosink'],
    skip: needsDisplay,
    test: async (ctx, [line]) => { await ctx.fixture('cam'); await consumes(ctx, line); },
  },
  {
    lines: ['gst-launch-1.0 -e rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam ! video/x-h264 ! h264parse ! mp4mux ! filesink location=cam.mp4'],
    test: async (ctx, [line]) => {
      await ctx.fixture('cam');
      const dir = join(TMP, 'readme-mp4');
      mkdirSync(dir);
      const c = startLine('record-mp4', substitute(line, { port: ctx.port }), { cwd: dir });
      await records(c);
      await interrupt(c, { eos: true });
      discover(join(dir, 'cam.mp4'), { video: 'H\\.264', minSeconds: 2 });
    },
  },
  {
    lines: ['gst-play-1.0 rtcstream://127.0.0.1:8443/cam'],
    skip: needsDisplay,
    test: async (ctx, [line]) => { await ctx.fixture('cam'); await consumes(ctx, line); },
  },
  {
    lines: ['GST_PLUGIN_PATH=build/plugins build/examples/rtcstream-interactive rtcstream://127.0.0.1:8443/play',
      'and open http://127.0.0.1:8443/?stream=play, then move the mouse over the video.'],
    test: async (ctx, [line]) => {
      const p = startLine('interactive', substitute(line, { port: ctx.port }));
      const page = await newPage();
      if (page) {
        await page.goto(`http://127.0.0.1:${ctx.port}/?stream=play`);
        await pagePlays(page);
        const box = await page.locator('video').boundingBox();
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        await page.mouse.move(box.x + box.width / 3, box.y + box.height / 3);
        await waitOutput(p, /"event":"navigation","type":"mouse-move"/);
        await page.close();
      } else {
        await watched(ctx.port, 'play', { video: 30 });
      }
      await interrupt(p);
    },
  },
  {
    // Two gst-launch participants of a room: each shows the other (its first pad).
    // Their own server: the example lines below use room "meet" on the shared one.
    lines: ['gst-launch-1.0 rtcstreamroom uri=rtcstream://127.0.0.1:8443/meet participant=alice name=r videotestsrc is-live=true ! r. r. ! queue ! videoconvert ! autovideosink',
      'gst-launch-1.0 rtcstreamroom uri=rtcstream://127.0.0.1:8443/meet participant=bob name=r videotestsrc is-live=true pattern=ball ! r. r. ! queue ! videoconvert ! autovideosink'],
    skip: needsDisplay,
    test: async (ctx, [alice, bob]) => {
      const server = await startSignalling('server-room');
      const a = startLine('room-alice', substitute(alice, { port: server.port }));
      const b = startLine('room-bob', substitute(bob, { port: server.port }));
      await Promise.all([waitRendered(a, { video: 30 }), waitRendered(b, { video: 30 })]);
      await interrupt(a);
      await interrupt(b);
      await stop(server);
    },
  },
  {
    // examples/room.cpp: two participants get each other's pad, and the page
    // joins as a third: both get its pad, it shows both.
    lines: ['GST_PLUGIN_PATH=build/plugins build/examples/rtcstream-room rtcstream://127.0.0.1:8443/meet alice',
      'GST_PLUGIN_PATH=build/plugins build/examples/rtcstream-room rtcstream://127.0.0.1:8443/meet bob',
      'and open http://127.0.0.1:8443/room.html?room=meet in a browser to join too.'],
    test: async (ctx, [alice, bob]) => {
      const a = startLine('room-app-alice', substitute(alice, { port: ctx.port }));
      const b = startLine('room-app-bob', substitute(bob, { port: ctx.port }));
      await waitOutput(a, /"event":"buffers","pad":"video_bob_0","count":[1-9]/, MEDIA_MS);
      await waitOutput(b, /"event":"buffers","pad":"video_alice_0","count":[1-9]/, MEDIA_MS);
      const page = await newPage();
      if (page) {
        await page.goto(`http://127.0.0.1:${ctx.port}/room.html?room=meet`);
        await page.click('#join');
        await waitFor('the page to show alice and bob', () => page.evaluate(() => {
          const v = [...document.querySelectorAll('#tiles figure:not(.self) video')];
          return { frames: v.map((x) => x.getVideoPlaybackQuality().totalVideoFrames), ok: v.length === 2 && v.every((x) => x.getVideoPlaybackQuality().totalVideoFrames > 10) };
        }), MEDIA_MS);
        await waitOutput(a, /"event":"buffers","pad":"video_guest-[0-9a-f]+_0","count":[1-9]/, MEDIA_MS);
        await page.click('#leave');
        await waitOutput(a, /"event":"pad-removed","pad":"video_guest-[0-9a-f]+_0"/);
        await page.close();
      }
      await interrupt(a);
      await interrupt(b);
    },
  },
  {
    lines: ['gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink uri=whip+http://127.0.0.1:8443/whip/cam',
      'gst-launch-1.0 rtcstreamsrc uri=whep+http://127.0.0.1:8443/whep/cam ! videoconvert ! autovideosink'],
    skip: needsDisplay,
    test: async (ctx, [whip, whep]) => {
      // Their own server: the WHIP line publishes "cam", which the shared one has.
      const server = await startSignalling('server-whip');
      const p = startLine('producer', substitute(whip, { port: server.port }));
      // The WHEP line finds the stream once the WHIP line has published it (a
      // busy machine once started it first, and the endpoint said 404).
      await watched(server.port, 'cam', { video: 1 });
      await consumes(ctx, whep, { port: server.port });
      await interrupt(p);
      await stop(server);
    },
  },
  {
    lines: ['rtcstream-signalling --port 8443 --token s3cret'],
    test: async (ctx, [line]) => {
      const s = await startServerLine('server-token', line);
      const post = (auth) => fetch(`http://127.0.0.1:${s.port}/whip/studio`, {
        method: 'POST', headers: { 'Content-Type': 'application/sdp', ...(auth ? { Authorization: auth } : {}) }, body: 'v=0\r\n',
      });
      assert.equal((await post()).status, 401, 'no token: 401');
      assert.equal((await post('Bearer wrong')).status, 401, 'a wrong token: 401');
      assert.notEqual((await post('Bearer s3cret')).status, 401, 'the token of the line is taken');
      await interrupt(s);
    },
  },
  {
    lines: ['gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink uri="janus+http://127.0.0.1:8088/janus?room=1234&display=cam"',
      'gst-launch-1.0 rtcstreamsrc uri="janus+http://127.0.0.1:8088/janus?room=1234&display=cam" ! videoconvert ! autovideosink'],
    skip: needsDisplay,
    test: async (ctx, [pub, sub]) => {
      const janus = await startJanus('janus-readme');
      await pair(ctx, pub, sub, { extra: [['127.0.0.1:8088', `127.0.0.1:${janus.port}`]] });
      await stop(janus.child);
    },
  },
  {
    lines: ['gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink uri=rtcstream://sig.example.org:8443/cam turn-servers=\'<"turn://alice:s3cret@turn.example.org:3478">\'',
      'gst-launch-1.0 rtcstreamsrc uri=rtcstream://sig.example.org:8443/cam ice-transport-policy=relay turn-servers=\'<"turn://alice:s3cret@turn.example.org:3478">\' ! videoconvert ! autovideosink'],
    name: '(sig.example.org and turn.example.org: a server and coturn here)',
    skip: needsDisplay,
    test: async (ctx, [pub, sub]) => {
      const server = await startSignalling('server-turn');
      const turn = await startCoturn('coturn-alice');
      const extra = [['sig.example.org:8443', `127.0.0.1:${server.port}`],
        ['turn.example.org:3478', `127.0.0.1:${turn.port}`]];
      await pair(ctx, pub, sub, { extra });
      // Relayed: coturn allocated a relay for alice.
      assert.match(turn.log(), /user <alice>/, 'coturn allocated a relay for alice');
      await stop(turn.child);
      await stop(server);
    },
  },
  {
    lines: ['rtcstream-signalling --ice-server turn:turn.example.org:3478 --turn-secret "$SECRET"',
      'rtcstream-signalling --ice-server stun:turn.example.org:3478 --ice-server turn:turn.example.org:3478?transport=udp --ice-server turn:turn.example.org:3478?transport=tcp --turn-secret "$SECRET"'],
    name: '(turn.example.org: coturn here with that secret)',
    test: async (ctx, lines) => {
      const SECRET = 'north-wind';
      const turn = await startCoturn('coturn-secret', { secret: SECRET });
      for (const line of lines) {
        const s = await startServerLine('server-ice', line, {
          env: { SECRET }, extra: [['turn.example.org:3478', `127.0.0.1:${turn.port}`]],
        });
        // Pipelines without turn-servers, relay only: the server's TURN carries them.
        const p = startLine('secret-producer',
          `gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink ice-transport-policy=relay uri=rtcstream://127.0.0.1:${s.port}/cam`);
        await watched(s.port, 'cam', { video: 30, props: 'ice-transport-policy=relay' });
        // The user of per-peer TURN credentials is EXPIRY:PEER-ID.
        assert.match(turn.log(), /user <\d+:[0-9a-f-]+>/, 'coturn allocated with the server\'s credentials');
        await interrupt(p);
        await interrupt(s);
      }
      await stop(turn.child);
    },
  },
  { lines: ['scripts/install-deps.sh'], test: async () => {
    const c = startLine('install-deps', `${ROOT}/scripts/install-deps.sh`);
    assert.equal(await exitsWithin(c, 60000), 0, c.log);
    assert.doesNotMatch(c.log, /Installing:/, `every package is installed already:\n${c.log}`);
  } },
  { lines: ['meson setup build && ninja -C build'], skip: 'the build this suite runs in (meson test built it); a second full build takes minutes on 2 cores' },
  { lines: ['meson test -C build --print-errorlogs'], skip: 'runs every test, this one included' },

  // ---- docs/elements.md, docs/whip-whep.md ----------------------------------------
  {
    // Data streams: a file copied exactly by two lines that end by themselves.
    lines: ['gst-launch-1.0 filesrc location=big.iso ! rtcstreamsink uri=rtcstream://127.0.0.1:8443/file',
      'gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/file ! filesink location=copy.iso'],
    test: async (ctx, [producer, viewer]) => {
      const dir = join(TMP, 'data-file');
      mkdirSync(dir);
      writeFileSync(join(dir, 'big.iso'), randomBytes(20 * 1024 * 1024));
      const p = startLine('data-file-producer', substitute(producer, { port: ctx.port }), { cwd: dir });
      const v = startLine('data-file-viewer', substitute(viewer, { port: ctx.port }), { cwd: dir });
      assert.equal(await exitsWithin(v, 60000), 0, v.log);
      assert.equal(await exitsWithin(p, 30000), 0, p.log);
      const sha = (f) => createHash('sha256').update(readFileSync(join(dir, f))).digest('hex');
      assert.equal(sha('copy.iso'), sha('big.iso'), 'the copy differs');
    },
  },
  {
    lines: ['export GST_PLUGIN_PATH=$PWD/build/plugins'],
    test: async () => {
      // In a shell without GST_PLUGIN_PATH the plugin is not found; after the
      // line (from the checkout's root) it is.
      const env = { GST_PLUGIN_PATH: '', GST_REGISTRY: join(TMP, 'export-registry.bin') };
      const without = startLine('export-without', 'unset GST_PLUGIN_PATH; gst-inspect-1.0 rtcstreamsink', { env, cwd: ROOT });
      assert.notEqual(await exitsWithin(without, 30000), 0, 'without the line, no plugin');
      const line = BUILD === join(ROOT, 'build') ? 'export GST_PLUGIN_PATH=$PWD/build/plugins' : substitute('export GST_PLUGIN_PATH=$PWD/build/plugins');
      const withIt = startLine('export-with', `unset GST_PLUGIN_PATH; ${line}; gst-inspect-1.0 rtcstreamsink`, { env, cwd: ROOT });
      assert.equal(await exitsWithin(withIt, 30000), 0, withIt.log);
    },
  },
  {
    lines: ['gst-launch-1.0 -e rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam name=src src.video_0 ! video/x-h264 ! h264parse ! queue ! mux. src.audio_0 ! audio/x-opus ! opusparse ! queue ! mux. matroskamux name=mux ! filesink location=cam.mkv'],
    test: async (ctx, [line]) => {
      // The text records H264 and Opus: "cam" here has both (the shared one
      // has no audio, and a muxer waits for every pad linked to it).
      const server = await startSignalling('server-mkv');
      startLine('cam-av', `gst-launch-1.0 rtcstreamsink name=s uri=rtcstream://127.0.0.1:${server.port}/cam `
        + 'videotestsrc is-live=true ! s.video_0 audiotestsrc is-live=true ! s.audio_0');
      const dir = join(TMP, 'elements-mkv');
      mkdirSync(dir);
      const c = startLine('record-mkv', substitute(line, { port: server.port }), { cwd: dir });
      await records(c);
      await interrupt(c, { eos: true });
      discover(join(dir, 'cam.mkv'), { video: 'H\\.264', audio: 'Opus', minSeconds: 2 });
    },
  },
  {
    // The loopback scheme: a sink and a src of one pipeline, no server; the
    // window shows the video, Ctrl-C ends both with EOS.
    lines: ['gst-launch-1.0 -e videotestsrc is-live=true ! rtcstreamsink uri=loopback://cam rtcstreamsrc uri=loopback://cam ! videoconvert ! autovideosink'],
    skip: needsDisplay,
    test: (ctx, [line]) => consumes(ctx, line),
  },
  {
    lines: ['gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam ! videoconvert ! fakesink num-buffers=90'],
    test: async (ctx, [line]) => {
      // "Downstream is done": the viewer ends by itself, exit 0.
      await ctx.fixture('cam');
      const c = startLine('num-buffers', substitute(line, { port: ctx.port }));
      assert.equal(await exitsWithin(c, 30000), 0, c.log);
      assert.match(c.log, /Got EOS from element "pipeline0"/, c.log);
    },
  },
  ...['GST_DEBUG=rtcstream*:5 gst-launch-1.0 ...', 'GST_DEBUG=rtcstream-signaller:7 ...',
    'GST_DEBUG=rtcstream*:5,webrtcbin:5,nice:4 ...', 'GST_DEBUG_DUMP_DOT_DIR=/tmp gst-launch-1.0 ...']
    .map((l) => ({ lines: [l], skip: 'a pattern: `...` stands for any pipeline' })),

  // ---- docs/performance.md, docs/protocol.md ------------------------------------
  { lines: ['bench/room.sh', 'PARTICIPANTS=2,4,6 WINDOW=15 SIZE=320x240 FPS=15 bench/room.sh'], skip: 'the room benchmark: 2, 4 and 6 participants for about 3 minutes of both cores, run by hand and kept out of meson test' },
  { lines: ['bench/run.sh > results.md', 'RUNS=5 REPS=1 WINDOW=5 CONSUMERS=1,5 bench/run.sh'], skip: 'the benchmark: minutes of both cores, run by hand and kept out of meson test' },
  { lines: ['bench/server-attacks.py build/signalling/rtcstream-signalling ../main/build/signalling/rtcstream-signalling'], skip: 'the attack benchmark: 1 GiB bodies, 1400 connections, minutes per binary, run by hand and kept out of meson test' },
  { lines: ['bench/ttff.sh', 'RUNS=10 bench/ttff.sh HEAD~3'], skip: 'the time-to-first-frame benchmark: builds another revision and runs minutes of both cores, run by hand and kept out of meson test' },
  { lines: ['bench/netsim.sh stream', 'bench/netsim.sh stream --caps 500 --congestion-control on', 'bench/netsim.sh stream --pattern moving'], skip: 'the benchmark on simulated links: minutes of both cores, run by hand and kept out of meson test' },
  { lines: ['bench/netsim.sh compare', 'bench/netsim.sh compare --cases drop:4000-300 --seconds 40', 'bench/netsim.sh compare --cases cap:500,cap:1000 --senders rtcstream@/tmp/base/build,rtcstream --repeat 2', 'COMPARE_TRACE=1 G2G_DEBUG=1 bench/netsim.sh compare --cases cap:500 --senders rtcstream'], skip: 'rtcstream against a bare webrtcbin pair on simulated links: 18 runs of 30-50 s, minutes of both cores, run by hand and kept out of meson test' },
  { lines: ['bench/netsim.sh probe'], skip: 'upward probing on and off side by side on simulated links: 4 runs of ~80 s with two 720p encoders at once, minutes of both cores, run by hand and kept out of meson test' },
  { lines: ['bench/netsim.sh ladder'], skip: 'the encoding ladder benchmark: 6 runs of 40 s with up to 20 viewers in namespaces, minutes of both cores, run by hand and kept out of meson test' },
  { lines: ['bench/netsim.sh g2g --receivers adaptive,rtcstream-50,bare-200,bare-50,bare-0', 'bench/netsim.sh g2g --jitter 10,30 --reorder on --receivers adaptive,bare-200,bare-50,bare-0', 'bench/netsim.sh g2g --jitter 0 --receivers adaptive,bare-0,chromium --seconds 10', 'G2G_SYNC=0 bench/netsim.sh g2g --jitter 0 --receivers adaptive,bare-0 --seconds 10', 'G2G_DEADLINE=5 bench/netsim.sh g2g --jitter 0 --receivers adaptive,bare-0 --seconds 10', 'G2G_DEBUG=1 bench/netsim.sh g2g --jitter 0 --receivers adaptive@/tmp/eos-new,adaptive@/tmp/eos-base,bare-0 --seconds 10'], skip: 'the glass-to-glass benchmark on simulated links: 15 runs of 30 s of both cores, run by hand and kept out of meson test' },
  { lines: ['meson test -C build --print-errorlogs --suite netsim'], skip: 'the netsim suite, which meson test runs next to this one' },
  { lines: ['meson test -C build --print-errorlogs --suite fuzz'], skip: 'the fuzz suite, which meson test runs next to this one' },
  { lines: ['bench/data-copy.sh', 'SIZE_MB=50 RUNS=5 bench/data-copy.sh'], skip: 'the file transfer benchmark: 200 MiB copies three times each way, a minute of both cores, run by hand; the file copy itself is tested (integration-launch, and docs/elements.md\'s lines here)' },
  { lines: ['bench/churn.sh > churn.md', 'bench/churn.sh --cycles 100', 'bench/churn.sh --cycles 200 --malloc-info malloc.xml', 'bench/churn.sh --cycles 200 --producer-env G_SLICE=always-malloc', 'bench/churn.sh --cycles 3000 --rest-every 500'], skip: 'the churn benchmark: minutes to an hour of both cores, run by hand; the integration-churn test runs the same code for 21 cycles' },
  { lines: ['scripts/sanitize.sh', 'scripts/sanitize.sh --suite element'], skip: 'the sanitizer run: a second full build with ASan and UBSan and four suites 2-3 times slower, most of an hour of both cores, run by hand' },
  { lines: ['bench/fuzz.sh'], skip: 'the long fuzz run: 10 million inputs per target, most of an hour of a core' },
  {
    lines: ['bench/fuzz.sh --seconds 10 uris'],
    skip: () => (existsSync(join(BUILD, 'tests', 'fuzz', 'fuzz-uris')) ? null : 'the fuzz targets were not built (no clang++)'),
    test: async (ctx, [line]) => {
      // A table with one row: the target, the inputs it ran, nothing found.
      const c = startLine('fuzz-uris', substitute(line), { env: { BUILD } });
      assert.equal(await exitsWithin(c, 120000), 0, c.log);
      assert.match(c.log, /^\| uris \| [1-9]\d* \| \d+ \| \d+ \| none \|$/m, c.log);
    },
  },
  { lines: ['rtcstream-signalling [--host ADDRESS] [--port PORT] [--max-message-size BYTES]'], skip: 'a synopsis of the options (tests/server/test_server_process.cpp runs them)' },

  // ---- docs/scale-out.md -----------------------------------------------------------
  { lines: ['rtcstream-signalling &'], test: () => serves('rtcstream-signalling &') },
  {
    lines: ['gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink name=s uri="janus+http://127.0.0.1:8088/janus?room=1234&display=cam" audiotestsrc is-live=true ! s.audio_0',
      'gst-launch-1.0 rtcstreamsrc name=r uri="janus+http://127.0.0.1:8088/janus?room=1234&display=cam" r. ! queue ! videoconvert ! autovideosink  r. ! queue ! audioconvert ! autoaudiosink'],
    skip: needsDisplay,
    test: async (ctx, [pub, sub]) => {
      const janus = await startJanus('janus-scale-out');
      await pair(ctx, pub, sub, { extra: [['127.0.0.1:8088', `127.0.0.1:${janus.port}`]], audio: 10 });
      await stop(janus.child);
    },
  },

  // ---- docs/auth.md ------------------------------------------------------------------
  {
    lines: ['head -c 32 /dev/urandom | base64 > secret.key',
      'build/signalling/rtcstream-signalling --port 8443 --token-secret-file secret.key &',
      "PUB=$(build/signalling/rtcstream-signalling --mint-token 'publish:cam*' --token-secret-file secret.key --ttl 3600)",
      "VIEW=$(build/signalling/rtcstream-signalling --mint-token 'watch:cam list' --token-secret-file secret.key --ttl 3600)",
      'gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink uri=rtcstream://127.0.0.1:8443/cam auth-token=$PUB &',
      'gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam auth-token=$VIEW ! videoconvert ! autovideosink'],
    name: '(the lines run in one directory; $PUB and $VIEW as the block sets them)',
    skip: needsDisplay,
    test: async (ctx, [secret, server, pub, view, producer, consumer]) => {
      const dir = join(TMP, 'auth-quick-start');
      mkdirSync(dir, { recursive: true });
      const inDir = (line, show = '') => {
        const r = spawnSync('/bin/bash', ['-c', `${substitute(line)}${show}`], { cwd: dir, encoding: 'utf8' });
        assert.equal(r.status, 0, `${line}: ${r.stderr}`);
        return r.stdout.trim();
      };
      inDir(secret);
      const s = await startServerLine('server-auth', server, { cwd: dir });
      const tokens = { PUB: inDir(pub, '; printf %s "$PUB"'), VIEW: inDir(view, '; printf %s "$VIEW"') };
      for (const t of Object.values(tokens)) assert.match(t, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
      const extra = Object.entries(tokens).map(([k, v]) => [`$${k}`, v]);
      // Nothing but the token's stream: no token, no publishing.
      const tokenless = await fetch(`http://127.0.0.1:${s.port}/whip/cam`, {
        method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' });
      assert.equal(tokenless.status, 401);
      const p = startLine('producer-auth', substitute(producer.replace(/\s*&\s*$/, ''), { port: s.port, extra }));
      await consumes(ctx, consumer, { port: s.port, extra });
      await interrupt(p);
      await interrupt(s);
    },
  },
  {
    lines: ["build/signalling/rtcstream-signalling --mint-token 'publish:studio watch:* list' --token-secret-file secret.key --ttl 600"],
    test: async (ctx, [line]) => {
      const dir = join(TMP, 'auth-mint');
      mkdirSync(dir, { recursive: true });
      const keyed = spawnSync('/bin/bash', ['-c', 'head -c 32 /dev/urandom | base64 > secret.key'], { cwd: dir });
      assert.equal(keyed.status, 0);
      const r = spawnSync('/bin/bash', ['-c', substitute(line)], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const claims = JSON.parse(Buffer.from(r.stdout.trim().split('.')[1], 'base64url').toString());
      assert.equal(claims.scope, 'publish:studio watch:* list');
      assert.equal(claims.exp - claims.iat, 600);
    },
  },

  // ---- docs/whip-whep-server.md ------------------------------------------------------
  {
    lines: ['build/signalling/rtcstream-signalling --port 8443 --token s3cret',
      'OBS: Settings > Stream > Service "WHIP", server http://HOST:8443/whip/studio, token s3cret',
      'a browser: http://HOST:8443/whip.html?name=studio&token=s3cret',
      'gst-launch-1.0 rtcstreamsrc uri=rtcstream://HOST:8443/studio auth-token=s3cret ! videoconvert ! autovideosink',
      'any WHEP player: POST its offer to http://HOST:8443/whep/studio'],
    name: '(OBS is not here: the browser publishes, aiortc plays over WHEP)',
    skip: () => needsDisplay() ?? browserMissing,
    // Chromium ignores a FIR that comes within 300 ms of the last one it
    // acted on: the WHEP player, joining just after the pipeline viewer, got
    // no keyframe in about one run of three until rtcstreamsink asked again
    // for keyframes that did not come (sink-encoding.cpp).
    test: async (ctx, [server, , open, watch]) => {
      const s = await startServerLine('server-studio', server);
      const page = await newPage();
      await page.goto(substitute(open.replace(/^a browser: /, ''), { port: s.port }));
      await page.click('#publish');
      await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('publishing'));
      await consumes(ctx, watch, { port: s.port });
      const player = startLine('whep-player', `/usr/bin/python3 ${ROOT}/tests/interop/whip_aiortc_peer.py play `
        + `http://127.0.0.1:${s.port}/whep/studio --token s3cret --frames 30`);
      assert.equal(await exitsWithin(player, MEDIA_MS), 0, player.log);
      await page.click('#stop');
      await page.close();
      await interrupt(s);
    },
  },
  {
    lines: ['gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink uri=whip+http://127.0.0.1:8889/cam/whip'],
    name: '(the aiortc endpoint of tests/interop stands for the WHIP server)',
    test: async (ctx, [line]) => {
      const endpoint = await startEndpoint('endpoint-mediamtx');
      const p = startLine('whip-cam', substitute(line, { extra: [['127.0.0.1:8889', `127.0.0.1:${endpoint.port}`]] }));
      await waitFor('the endpoint to decode 30 frames', () =>
        endpoint.events.find((e) => e.event === 'frames' && e.count >= 30), MEDIA_MS);
      await interrupt(p);
      await stop(endpoint, 'SIGINT');
    },
  },
  {
    lines: ['gst-launch-1.0 rtcstreamsrc uri=whep+https://media.example.net/whep/cam auth-token=SECRET tls-ca-file=/etc/ssl/private-ca.pem ! videoconvert ! autovideosink'],
    name: '(media.example.net: the aiortc endpoint over HTTPS with a self-signed certificate)',
    skip: needsDisplay,
    test: async (ctx, [line]) => {
      const { cert, key } = makeCertificate();
      const endpoint = await startEndpoint('endpoint-https', ['--token', 'SECRET', '--tls-cert', cert, '--tls-key', key]);
      await consumes(ctx, line, { extra: [['media.example.net', `127.0.0.1:${endpoint.port}`],
        ['/etc/ssl/private-ca.pem', cert]] });
      await stop(endpoint, 'SIGINT');
    },
  },
  {
    lines: ['/usr/bin/python3 tests/interop/whip_endpoint.py --token SECRET',
      'gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink uri=whip+http://127.0.0.1:40123/whip/cam auth-token=SECRET'],
    test: async (ctx, [endpointLine, line]) => {
      const endpoint = await startEndpoint('endpoint-doc', [], { line: substitute(endpointLine) });
      const p = startLine('whip-token', substitute(line, { extra: [['127.0.0.1:40123', `127.0.0.1:${endpoint.port}`]] }));
      await waitFor('the endpoint to decode 30 frames', () =>
        endpoint.events.find((e) => e.event === 'frames' && e.count >= 30), MEDIA_MS);
      assert.ok(endpoint.events.some((e) => e.event === 'post' && e.authorized), 'the token was taken');
      await interrupt(p);
      await interrupt(endpoint);
    },
  },

  // ---- examples/ -------------------------------------------------------------------
  {
    lines: ['examples/browser-to-pipeline.sh [HOST:PORT] [STREAM]',
      'VIDEO_SINK=fakesink AUDIO_SINK=fakesink examples/browser-to-pipeline.sh',
      'http://HOST:PORT/publish.html?name=STREAM in a browser and click Publish;'],
    skip: () => browserMissing ?? needsDisplay(),
    test: async (ctx, [, fake]) => {
      const page = await newPage();
      await page.goto(`http://127.0.0.1:${ctx.port}/publish.html?name=webcam`);
      await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
      await page.click('#publish');
      await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('publishing'));
      // The synopsis with both arguments, and the line with the defaults
      // (STREAM webcam; HOST:PORT given, the server's).
      const a = startLine('browser-to-pipeline', substitute(`examples/browser-to-pipeline.sh 127.0.0.1:${ctx.port} webcam`));
      const b = startLine('browser-to-pipeline-fake', substitute(`${fake} 127.0.0.1:${ctx.port}`));
      await Promise.all([waitRendered(a, { video: 30, audio: 10 }), waitRendered(b, { video: 30, audio: 10 })]);
      await Promise.all([interrupt(a), interrupt(b)]);
      await page.click('#stop');
      await page.close();
    },
  },
  {
    lines: ['examples/camera-to-browser.sh [HOST:PORT] [STREAM]', 'CAMERA=/dev/video2 examples/camera-to-browser.sh',
      'that plays it in a browser (http://HOST:PORT/?stream=STREAM). Assumes rtcstream-signalling runs at HOST:PORT.'],
    name: '(no camera here: the script publishes its test pattern)',
    test: async (ctx) => {
      const server = await startSignalling('server-camera');
      // CAMERA=/dev/video2 (none here) with the default stream "cam".
      const a = startLine('camera-to-browser', substitute(`CAMERA=/dev/video2 examples/camera-to-browser.sh 127.0.0.1:${server.port}`));
      await waitOutput(a, /no camera at \/dev\/video2: publishing a test pattern/);
      const link = await waitOutput(a, /open (http:\/\/\S+) in a browser/);
      assert.equal(link[1], `http://127.0.0.1:${server.port}/?stream=cam`);
      const page = await newPage();
      if (page) {
        await page.goto(link[1]);
        await pagePlays(page);
        await page.close();
      } else {
        await watched(server.port, 'cam', { video: 30 });
      }
      await interrupt(a, { eos: true });
      // The synopsis, with a stream name.
      const b = startLine('camera-to-browser-named', substitute(`examples/camera-to-browser.sh 127.0.0.1:${server.port} door`));
      await watched(server.port, 'door', { video: 30 });
      await interrupt(b, { eos: true });
      await stop(server);
    },
  },
  {
    // The shared desktop is the doc runner's Xvfb display; a gst-launch viewer
    // renders it, and Ctrl-C ends the stream for the viewer too.
    lines: ['GST_PLUGIN_PATH=build/plugins build/examples/rtcstream-screen-share rtcstream://127.0.0.1:8443/screen',
      'AUDIO=0 examples/watch.sh 127.0.0.1:8443 screen'],
    skip: () => needsDisplay() ?? (existsSync(join(BUILD, 'examples', 'rtcstream-screen-share')) ? null : 'not built (no libx11-dev/libxtst-dev)'),
    test: async (ctx, [line, watch]) => {
      const app = startLine('screen-share', substitute(line, { port: ctx.port }));
      await waitOutput(app, /^registered$/m);
      const w = startLine('watch-screen', substitute(watch, { port: ctx.port }));
      await waitRendered(w, { video: 10 });
      assert.match(app.log, /^control revoked$/m, app.log);
      await interrupt(app);
      assert.equal(await exitsWithin(w, STEP_MS, 'exit at the end of the stream'), 0, w.log);
    },
  },
  {
    // A Python application's own signaller (GObject-Introspection): it exits 0
    // once its viewer decoded 90 frames and a message went each way.
    lines: ['GI_TYPELIB_PATH=build/gst LD_LIBRARY_PATH=build/gst GST_PLUGIN_PATH=build/plugins /usr/bin/python3 examples/python/own-signaller.py --frames 90'],
    skip: () => (existsSync(join(BUILD, 'gst', 'Rtcstream-1.0.typelib')) ? null : 'no typelib (g-ir-scanner missing: meson option introspection)'),
    test: async (ctx, [line]) => {
      const c = startLine('python-signaller', substitute(line));
      assert.equal(await exitsWithin(c, 60000), 0, c.log);
      assert.match(c.log, /stream 'cam' registered/, c.log);
      assert.match(c.log, /decoded \d+ frames; messages: camera -> viewer 'hello from the camera', viewer -> camera 'hello from the viewer'/, c.log);
      assert.match(c.log, /sink stats: consumers=1 encoders=1/, c.log);
      // data-channel-opened comes once per side (it came twice when the
      // channel opened while the element was adopting it).
      assert.equal(c.log.match(/viewer: data channel to \S+ open/g)?.length, 1, c.log);
      assert.equal(c.log.match(/camera: data channel to \S+ open/g)?.length, 1, c.log);
    },
  },
  {
    lines: ['g++ -std=c++17 -Wall -Wextra examples/embed.cpp -o embed $(pkg-config --cflags --libs gstreamer-1.0)',
      'ninja -C build examples/rtcstream-embed',
      'GST_PLUGIN_PATH=build/plugins ./embed rtcstream://127.0.0.1:8443/app',
      'examples/watch.sh 127.0.0.1:8443 app'],
    skip: needsDisplay,
    test: async (ctx, [gxx, ninja, runEmbed, watch]) => {
      const cc = startLine('embed-g++', substitute(gxx));    // writes TMP/embed
      assert.equal(await exitsWithin(cc, 120000, 'compile'), 0, cc.log);
      // The target is a path inside the build directory: only -C build is substituted.
      const nj = startLine('embed-ninja', substitute(ninja).replace(`${ROOT}/examples/`, 'examples/'));
      assert.equal(await exitsWithin(nj, 120000, 'build'), 0, nj.log);
      const app = startLine('embed', substitute(runEmbed, { port: ctx.port }));
      const w = startLine('watch-app', substitute(watch, { port: ctx.port }));
      await waitRendered(w, { video: 30, audio: 10 });
      await waitOutput(app, /viewer joined/);
      // Ctrl-C ends the stream cleanly: the viewer gets EOS and watch.sh exits.
      await interrupt(app);
      assert.equal(await exitsWithin(w, STEP_MS, 'exit at the end of the stream'), 0, w.log);
    },
  },
  {
    lines: ['examples/play.sh [HOST:PORT] [STREAM] [gst-play-1.0 options...]'],
    skip: needsDisplay,
    test: async (ctx) => {
      await ctx.fixture('test');
      const c = startLine('play', substitute(`examples/play.sh 127.0.0.1:${ctx.port} test`));
      await waitRendered(c, { video: 30, audio: 10 });
      await interrupt(c);
    },
  },
  {
    lines: ['examples/publish-h264-passthrough.sh [HOST:PORT] [STREAM]'],
    test: async (ctx) => {
      const p = startLine('h264', substitute(`examples/publish-h264-passthrough.sh 127.0.0.1:${ctx.port}`));
      const seen = await watched(ctx.port, 'h264', { video: 30, audio: 10 });
      assert.equal(seen.codec, 'H264', 'sent as it is: H264');
      await interrupt(p, { eos: true });
    },
  },
  {
    lines: [TESTSRC],
    fixture: 'test',
    test: async (ctx) => {
      const p = await ctx.fixture('test');
      await watched(ctx.port, 'test', { video: 30, audio: 10 });
      await ctx.others;
      await interrupt(p, { eos: true });
    },
  },
  {
    lines: ['examples/v4l2-camera.sh [HOST:PORT] [STREAM] [DEVICE]'],
    name: existsSync('/dev/video0') ? '' : '(no camera here: its error without one)',
    test: async (ctx) => {
      const c = startLine('v4l2', substitute(`examples/v4l2-camera.sh 127.0.0.1:${ctx.port} v4l2`));
      if (!existsSync('/dev/video0')) {
        assert.equal(await exitsWithin(c, STEP_MS), 1);
        assert.match(c.log, /no camera at \/dev\/video0: pass the device as the third argument/);
        return;
      }
      await watched(ctx.port, 'v4l2', { video: 30 });
      await interrupt(c, { eos: true });
    },
  },
  {
    lines: ['v4l2-ctl -d /dev/video0 --list-formats-ext'],
    skip: () => (existsSync('/dev/video0') ? null : 'no camera here (/dev/video0)'),
    test: async () => {
      const c = startLine('v4l2-ctl', 'v4l2-ctl -d /dev/video0 --list-formats-ext');
      assert.equal(await exitsWithin(c, STEP_MS), 0, c.log);
    },
  },
  {
    lines: ['examples/watch-encoded-record.sh [HOST:PORT] [STREAM] [FILE]'],
    test: async (ctx) => {
      await ctx.fixture('test');
      for (const file of ['test.mkv', 'test.mp4']) {
        const c = startLine(`record-${file}`, substitute(`examples/watch-encoded-record.sh 127.0.0.1:${ctx.port} test ${file}`));
        await records(c);
        await interrupt(c, { eos: true });
        discover(join(TMP, file), { video: 'H\\.264', audio: 'Opus', minSeconds: 2 });
      }
    },
  },
  {
    lines: ['examples/watch.sh [HOST:PORT] [STREAM]'],
    skip: needsDisplay,
    test: async (ctx) => {
      await ctx.fixture('test');
      const c = startLine('watch', substitute(`examples/watch.sh 127.0.0.1:${ctx.port} test`));
      await waitRendered(c, { video: 30, audio: 10 });
      await interrupt(c);
    },
  },
];
