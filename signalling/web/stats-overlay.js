// SPDX-License-Identifier: LGPL-2.1-or-later
//
// stats-overlay.js: live WebRTC stats drawn over a playing <video>, with no
// dependency. Once a second it reads getStats () of the session and shows the
// video codec, resolution, frame rate, bitrate, round-trip time, and the
// latency: the playout delay (how long the browser's jitter buffer held each
// frame of the last second: jitterBufferDelay / jitterBufferEmittedCount),
// whether the producer sends the playout-delay RTP header extension (its
// value is not visible to a page: rtcstreamsink's default, 0,0, asks for no
// smoothing), and, where the sender's and this machine's clocks agree (one
// host, or both on NTP), the delay from the sender to the screen: now less
// the capture time, in the sender's clock, of what plays now
// (estimatedPlayoutTimestamp, which Chromium derives from the sender's RTCP
// reports; a GStreamer sender dates them when it sends, so this leaves out
// its capture and encoding), and glass to glass where the sender sends each
// frame's capture time (the abs-capture-time RTP header extension, which
// rtcstreamsink sends): from the capture of the last frame received to its
// reception (getSynchronizationSources: captureTimestamp, timestamp), plus
// the playout delay; decoding and display are not in it. The numbers each
// have a sparkline of their last 30 values (a value a second: the last
// 30 s); the received bitrate's and the frame rate's are drawn from 0, so
// that a drop reads as one, and each canvas's title says the range it shows
// (data-plot names it, data-points counts the values drawn).
//
//   import { StatsOverlay } from '/stats-overlay.js';
//   const overlay = new StatsOverlay(tile, () => viewer.getStats(),
//     { playoutDelayExtension: () => viewer.playoutDelayExtension(),
//       captureSources: () => viewer.captureSources() });
//   overlay.visible = false;   // hides it and stops polling
//   overlay.stop();            // for good

const HISTORY = 30;

// The rows: key, label, how a value reads, the number its sparkline draws
// (none for the codec; the frame height for the resolution), and whether
// the sparkline starts at 0 (else at the least value shown).
const ROWS = [
  ['codec', 'codec', String, null, false],
  ['resolution', 'res', String, 'height', false],
  ['fps', 'fps', (v) => v.toFixed(0), 'fps', true],
  ['bitrate', 'kbit/s', (v) => v.toFixed(0), 'bitrate', true],
  ['rtt', 'rtt ms', (v) => v.toFixed(1), 'rtt', false],
  ['playout', 'jb ms', (v) => v.toFixed(1), 'playout', false],
  ['extension', 'pd ext', (v) => (v ? 'sent' : 'no'), null, false],
  ['e2e', 'e2e ms', (v) => v.toFixed(0), 'e2e', false],
  ['g2g', 'g2g ms', (v) => v.toFixed(0), 'g2g', false],
];

// NTP time (ms since 1900) less Unix time (ms since 1970).
const NTP_UNIX_MS = 2208988800000;

/**
 * Reduces a getStats () report to { codec, resolution, height, fps, bitrate, rtt,
 * playout, e2e } (undefined where unknown). `prev` is the previous sample: the
 * rates and the playout delay are deltas against it. `wallNow` is Date.now ().
 */
export function sample (report, prev, now = performance.now(), wallNow = Date.now()) {
  const out = { time: now };
  let video = null;
  let transport = null;
  report.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') video = r;
    else if (r.type === 'transport' && r.selectedCandidatePairId) transport = r;
  });
  if (video) {
    const codec = video.codecId ? report.get(video.codecId) : null;
    if (codec?.mimeType) out.codec = codec.mimeType.replace(/^video\//i, '');
    if (video.frameWidth && video.frameHeight) {
      out.resolution = `${video.frameWidth}x${video.frameHeight}`;
      out.height = video.frameHeight;
    }
    out.bytes = video.bytesReceived;
    out.frames = video.framesDecoded;
    const dt = prev ? (now - prev.time) / 1000 : 0;
    if (typeof video.framesPerSecond === 'number') out.fps = video.framesPerSecond;
    else if (dt > 0 && prev.frames !== undefined) out.fps = (out.frames - prev.frames) / dt;
    if (dt > 0 && prev.bytes !== undefined && out.bytes !== undefined) {
      out.bitrate = Math.max(0, (out.bytes - prev.bytes) * 8 / 1000 / dt);
    }
    // The playout delay: the jitter buffer's time per frame (seconds, summed
    // over the frames it emitted), over the last sample, or since the start.
    out.jbDelay = video.jitterBufferDelay;
    out.jbEmitted = video.jitterBufferEmittedCount;
    if (typeof out.jbDelay === 'number' && out.jbEmitted > 0) {
      const d = out.jbDelay - (prev?.jbDelay ?? 0);
      const n = out.jbEmitted - (prev?.jbEmitted ?? 0);
      if (n > 0) out.playout = d / n * 1000;
    }
    // Sender to screen, when the clocks agree: a value outside 0-10 s says
    // they do not.
    if (typeof video.estimatedPlayoutTimestamp === 'number' && video.estimatedPlayoutTimestamp > 0) {
      const e2e = wallNow + NTP_UNIX_MS - video.estimatedPlayoutTimestamp;
      if (e2e >= 0 && e2e < 10000) out.e2e = e2e;
    }
  }
  let pair = transport ? report.get(transport.selectedCandidatePairId) : null;
  if (!pair) {
    report.forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r;
    });
  }
  if (typeof pair?.currentRoundTripTime === 'number') out.rtt = pair.currentRoundTripTime * 1000;
  return out;
}

function sparkline (canvas, values, fromZero, unit) {
  const g = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  g.clearRect(0, 0, w, h);
  const nums = values.filter((v) => Number.isFinite(v));
  canvas.dataset.points = String(nums.length < 2 ? 0 : nums.length);
  if (nums.length < 2) return;
  const hi = Math.max(...nums);
  const lo = fromZero ? Math.min(0, ...nums) : Math.min(...nums);
  const span = hi - lo || 1;
  canvas.title = `last ${values.length} s: ${+lo.toFixed(1)} to ${+hi.toFixed(1)} ${unit}`;
  g.strokeStyle = '#6f6';
  g.lineWidth = 1;
  g.beginPath();
  let pen = false;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) { pen = false; return; }
    const x = (i + HISTORY - values.length) * (w - 1) / (HISTORY - 1);
    const y = h - 1 - (v - lo) / span * (h - 2);
    if (pen) g.lineTo(x, y); else g.moveTo(x, y);
    pen = true;
  });
  g.stroke();
}

/**
 * Glass to glass (ms) from the video receiver's synchronization sources and
 * the playout delay: capture to reception, by the sender's and this
 * machine's clocks (undefined when they disagree by seconds, or nothing
 * carries a capture time), plus the jitter buffer's time.
 */
export function glassToGlass (sources, playout) {
  const s = sources?.find((x) => x.captureTimestamp > 0 && x.timestamp > 0);
  if (!s) return undefined;
  const received = s.timestamp + NTP_UNIX_MS - s.captureTimestamp;
  if (!(received >= 0 && received < 10000)) return undefined;
  return received + (playout ?? 0);
}

/** The overlay: a .stats element appended to `parent` (which should be positioned). */
export class StatsOverlay {
  constructor (parent, getStats,
    { intervalMs = 1000, playoutDelayExtension = null, captureSources = null } = {}) {
    this.getStats = getStats;
    this.playoutDelayExtension = playoutDelayExtension;
    this.captureSources = captureSources;
    this.intervalMs = intervalMs;
    this.history = {};
    this.cells = {};
    this.prev = null;
    this.timer = null;
    this.gen = 0;  // bumped by every (re)start: an older polling loop ends
    this.stopped = false;
    this.el = document.createElement('div');
    this.el.className = 'stats';
    for (const [key, label, format, series, fromZero] of ROWS) {
      const row = document.createElement('div');
      const k = document.createElement('span');
      k.textContent = `${label} `;
      const v = document.createElement('span');
      v.dataset.stat = key;
      v.textContent = '–';
      row.append(k, v);
      let c = null;
      if (series) {
        c = Object.assign(document.createElement('canvas'), { width: 80, height: 20 });
        c.dataset.plot = key;
        c.dataset.points = '0';
        row.append(c);
        this.history[key] = [];
      }
      this.cells[key] = { v, c, format, series, fromZero, unit: label.replace(/^\S+ /, '') };
      this.el.append(row);
    }
    parent.append(this.el);
    this.visible = true;
  }

  get visible () { return !this.el.hidden; }

  set visible (on) {
    this.el.hidden = !on;
    clearTimeout(this.timer);
    this.timer = null;
    this.prev = null;
    this.gen++;
    if (on && !this.stopped) this.tick(this.gen);
  }

  stop () {
    this.stopped = true;
    clearTimeout(this.timer);
    this.el.remove();
  }

  async tick (gen) {
    try {
      const report = await this.getStats();
      if (gen !== this.gen || this.stopped) return;
      this.prev = sample(report, this.prev);
      if (this.playoutDelayExtension) this.prev.extension = this.playoutDelayExtension();
      if (this.captureSources) {
        this.prev.g2g = glassToGlass(this.captureSources(), this.prev.playout);
      }
      this.show(this.prev);
    } catch { /* a closed connection: stop () ends the loop */ }
    if (gen === this.gen && !this.stopped) {
      this.timer = setTimeout(() => this.tick(gen), this.intervalMs);
    }
  }

  show (s) {
    for (const [key, { v, c, format, series, fromZero, unit }] of Object.entries(this.cells)) {
      v.textContent = s[key] === undefined ? '–' : format(s[key]);
      if (!c) continue;
      const h = this.history[key];
      h.push(s[series]);
      if (h.length > HISTORY) h.shift();
      sparkline(c, h, fromZero, unit);
    }
  }
}
