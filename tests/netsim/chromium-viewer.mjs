// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A headless Chromium that watches one stream on the server's web page and
// says what it decodes, for netsim tests that run it inside a viewer's
// namespace (the browser's own network stack behind the simulated link):
//
//   node chromium-viewer.mjs http://10.77.0.1:PORT NAME
//
// stdout, one line a second once the page has a peer connection:
//   stats frames=N width=W height=H bytes=B state=S
// (framesDecoded, frame size and bytesReceived of the inbound video, the
// connection state), and "error TEXT" if the page cannot be opened. It runs
// until stdin closes or it gets SIGTERM. Uses the browser tests' harness
// (tests/browser: playwright-core, Debian's chromium); "skip REASON" when
// they are missing.
import { createInterface } from 'node:readline';
import { missing, launchBrowser, closeBrowser, removeProfile } from '../browser/harness.mjs';

const [base, name] = process.argv.slice(2);
const ctx = { logs: [] };
let done = false;

async function finish (code) {
  if (done) return;
  done = true;
  await closeBrowser(ctx, `netsim-chromium-${name}`);
  removeProfile(ctx);
  process.exit(code);
}

process.on('SIGTERM', () => finish(0));
createInterface({ input: process.stdin }).on('close', () => finish(0));

// The harness needs RTCSTREAM_SIGNALLING only for the server it starts; this
// script starts none.
if (missing && !missing.startsWith('RTCSTREAM_SIGNALLING')) {
  console.log(`skip ${missing}`);
  await finish(0);
}

try {
  await launchBrowser(ctx, { fakeMedia: false });
  // ?stream=NAME plays that stream at once, muted (see signalling/web).
  await ctx.page.goto(`${base}/?stream=${encodeURIComponent(name)}`);
} catch (e) {
  console.log(`error ${String(e.message).split('\n')[0]}`);
  await finish(1);
}

while (!done) {
  const s = await ctx.page.evaluate(async (stream) => {
    const viewer = window.rtcstream?.viewers?.get(stream);
    if (!viewer) return null;
    const out = { frames: 0, width: 0, height: 0, bytes: 0, state: viewer.pc.connectionState };
    (await viewer.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.frames = r.framesDecoded ?? 0;
        out.width = r.frameWidth ?? 0;
        out.height = r.frameHeight ?? 0;
        out.bytes = r.bytesReceived ?? 0;
      }
    });
    return out;
  }, name).catch(() => null);
  if (s)
    console.log(`stats frames=${s.frames} width=${s.width} height=${s.height} bytes=${s.bytes} state=${s.state}`);
  await new Promise((r) => setTimeout(r, 1000));
}
