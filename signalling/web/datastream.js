// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Data streams in the browser: what rtcstreamsink's and rtcstreamsrc's
// data_%u pads carry (docs/protocol.md "Data streams"): buffers with caps,
// timestamps and flags, one data channel per stream (protocol
// "rtcstream-data/1", label the stream's name), fragmented into messages of
// at most 64 KiB, acknowledged by the receiver so that the sender keeps at
// most a window unacknowledged.

export const PROTOCOL = 'rtcstream-data/1';
const MAX_MESSAGE = 65536;
const HEADER = 52;
const WINDOW = 8 * 1024 * 1024;
const BUFFERED_HIGH = 4 * 1024 * 1024;
const BUFFERED_LOW = 1024 * 1024;
const NONE = 0xffffffffffffffffn;
const T = { caps: 0x43, buffer: 0x42, eos: 0x45, ack: 0x41 };

function timeOut (ns) {
  return ns === undefined || ns === null ? NONE : BigInt(ns);
}

function timeIn (v) {
  return v === NONE ? null : v;
}

/** The options of RTCPeerConnection.createDataChannel for a stream's channel. */
export function channelOptions ({ ordered = true, maxRetransmits, maxPacketLifeTime } = {}) {
  const o = { ordered, protocol: PROTOCOL };
  if (maxRetransmits !== undefined) o.maxRetransmits = maxRetransmits;
  else if (maxPacketLifeTime !== undefined) o.maxPacketLifeTime = maxPacketLifeTime;
  return o;
}

// One consumer's channel of a stream we send.
class Link {
  constructor (channel, wake) {
    this.channel = channel;
    this.sent = 0;
    this.acked = 0;
    this.capsSent = false;
    this.listening = false;
    this.fresh = channel.maxRetransmits !== null || channel.maxPacketLifeTime !== null;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = BUFFERED_LOW;
    channel.addEventListener('bufferedamountlow', wake);
    channel.addEventListener('open', wake);
    channel.addEventListener('close', wake);
    channel.addEventListener('message', (m) => {
      if (!(m.data instanceof ArrayBuffer) || m.data.byteLength !== 9) return;
      const v = new DataView(m.data);
      if (v.getUint8(0) !== T.ack) return;
      this.acked = Math.max(this.acked, Number(v.getBigUint64(1)));
      this.listening = true;
      wake();
    });
  }

  // Open, and the receiver listens (its first acknowledgement came).
  get open () { return this.channel.readyState === 'open' && this.listening; }

  get room () {
    if (this.fresh) return this.channel.bufferedAmount <= 64 * 1024;
    return this.channel.bufferedAmount <= BUFFERED_HIGH && this.sent - this.acked <= WINDOW;
  }
}

/**
 * The sending end of a data stream, to every consumer of a Publisher (a
 * channel per consumer, made by each PublishSession). write () resolves when
 * the buffer went out: on a reliable stream it waits for the first consumer
 * and for room at every consumer (a slow one holds the others up; see
 * rtcstreamsink's data-stall-timeout for the pipelines' policy); on a
 * partially reliable one it never waits, and a consumer without room misses
 * the buffer.
 */
export class DataStreamSender {
  constructor (name, { caps = '', ordered = true, maxRetransmits, maxPacketLifeTime } = {}) {
    this.name = name;
    this.caps = caps;
    this.options = channelOptions({ ordered, maxRetransmits, maxPacketLifeTime });
    this.fresh = maxRetransmits !== undefined || maxPacketLifeTime !== undefined;
    this.links = new Set();
    this.seq = 0;
    this.waiters = [];
  }

  // A consumer's session made its channel.
  addChannel (channel) {
    const link = new Link(channel, () => this.wake());
    this.links.add(link);
    channel.addEventListener('close', () => { this.links.delete(link); this.wake(); });
  }

  wake () {
    for (const w of this.waiters.splice(0)) w();
  }

  waitChange () {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      setTimeout(resolve, 50);
    });
  }

  async targets () {
    for (;;) {
      const open = [...this.links].filter((l) => l.open);
      if (this.fresh) return open.filter((l) => l.room);
      if (open.length && open.every((l) => l.room)) return open;
      await this.waitChange();
    }
  }

  sendCaps (link) {
    if (link.capsSent) return;
    const text = new TextEncoder().encode(this.caps);
    const m = new Uint8Array(1 + text.length);
    m[0] = T.caps;
    m.set(text, 1);
    link.channel.send(m);
    link.capsSent = true;
  }

  /**
   * Sends one buffer (an ArrayBuffer, a typed array or a DataView);
   * meta: { pts, dts, duration } in ns (numbers or BigInts), flags (GstBufferFlags).
   */
  async write (data, { pts, dts, duration, flags = 0 } = {}) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const targets = await this.targets();
    const seq = this.seq++ >>> 0;
    const chunk = MAX_MESSAGE - HEADER;
    const messages = [];
    let offset = 0;
    do {
      const n = Math.min(chunk, bytes.length - offset);
      const m = new Uint8Array(HEADER + n);
      const v = new DataView(m.buffer);
      v.setUint8(0, T.buffer);
      v.setUint32(4, seq);
      v.setBigUint64(8, BigInt(offset));
      v.setBigUint64(16, BigInt(bytes.length));
      v.setBigUint64(24, timeOut(pts));
      v.setBigUint64(32, timeOut(dts));
      v.setBigUint64(40, timeOut(duration));
      v.setUint32(48, flags);
      m.set(bytes.subarray(offset, offset + n), HEADER);
      messages.push(m);
      offset += n;
    } while (offset < bytes.length);
    for (const l of targets) {
      try {
        this.sendCaps(l);
        for (const m of messages) l.channel.send(m);
        l.sent += bytes.length;
      } catch (err) {
        console.warn(`rtcstream: ${this.name}: a consumer refused a buffer: ${err.message}`);
      }
    }
    return targets.length;
  }

  /** Ends the stream; on a reliable one resolves once every consumer acknowledged all. */
  async end () {
    const targets = this.fresh ? [...this.links].filter((l) => l.open) : await this.targets();
    for (const l of targets) {
      this.sendCaps(l);
      l.channel.send(new Uint8Array([T.eos]));
    }
    if (this.fresh) return;
    while (![...targets].every((l) => !l.open || l.acked >= l.sent)) await this.waitChange();
  }
}

/**
 * The receiving end of a data stream (a Viewer's "datastream" event):
 * events "caps" (detail: the caps string, '' for none), "buffer" (detail:
 * { data: Uint8Array, pts, dts, duration (BigInt ns or null), flags }) and
 * "eos". A buffer is acknowledged once its listeners ran.
 */
export class DataStreamReceiver extends EventTarget {
  constructor (channel) {
    super();
    this.name = channel.label;
    this.channel = channel;
    this.partials = new Map();
    this.consumed = 0;
    this.acked = 0;
    this.caps = '';
    this.fresh = channel.maxRetransmits !== null || channel.maxPacketLifeTime !== null;
    channel.binaryType = 'arraybuffer';
    channel.addEventListener('message', (m) => this.receive(m.data));
    // We listen: the sender sends nothing before this.
    if (channel.readyState === 'open') this.ack();
    else channel.addEventListener('open', () => this.ack(), { once: true });
  }

  ack () {
    const m = new DataView(new ArrayBuffer(9));
    m.setUint8(0, T.ack);
    m.setBigUint64(1, BigInt(this.consumed));
    if (this.channel.readyState === 'open') this.channel.send(m.buffer);
    this.acked = this.consumed;
  }

  receive (data) {
    if (!(data instanceof ArrayBuffer) || data.byteLength === 0) return;
    const v = new DataView(data);
    const type = v.getUint8(0);
    if (type === T.caps) {
      this.caps = new TextDecoder().decode(new Uint8Array(data, 1));
      this.dispatchEvent(new CustomEvent('caps', { detail: this.caps }));
    } else if (type === T.eos) {
      this.ack();
      this.dispatchEvent(new CustomEvent('eos'));
    } else if (type === T.buffer && data.byteLength >= HEADER) {
      const seq = v.getUint32(4);
      const offset = Number(v.getBigUint64(8));
      const total = Number(v.getBigUint64(16));
      let p = this.partials.get(seq);
      if (!p) {
        p = { data: new Uint8Array(total), received: 0, pts: timeIn(v.getBigUint64(24)),
          dts: timeIn(v.getBigUint64(32)), duration: timeIn(v.getBigUint64(40)), flags: v.getUint32(48) };
        this.partials.set(seq, p);
        // Keep the newest few when the channel may lose fragments.
        if (this.fresh && this.partials.size > 4) this.partials.delete(this.partials.keys().next().value);
      }
      p.data.set(new Uint8Array(data, HEADER), offset);
      p.received += data.byteLength - HEADER;
      if (p.received < total) return;
      this.partials.delete(seq);
      const { data: bytes, pts, dts, duration, flags } = p;
      this.dispatchEvent(new CustomEvent('buffer', { detail: { data: bytes, pts, dts, duration, flags } }));
      this.consumed += total;
      if (this.consumed - this.acked >= WINDOW / 4) this.ack();
    }
  }
}
