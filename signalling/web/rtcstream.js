// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstream.js: a dependency-free browser client for rtcstream-signalling
// (the protocol is docs/protocol.md). It lists the streams that producers
// publish, as they come and go, and plays any of them in a <video>.
//
//   import { RtcStreamClient } from '/rtcstream.js';
//   const client = new RtcStreamClient();            // ws(s)://this-host/ws
//   client.addEventListener('streamadded', (e) => console.log(e.detail.name));
//   await client.connect();
//   const viewer = await client.watch('cam', document.querySelector('video'));
//   viewer.stop();
//
// Events of RtcStreamClient (CustomEvent, data in `detail`):
//   streamadded / streamremoved   a stream { id, name, meta }
//   streams                       the whole list (an array of streams) after any change
//   error                         { code, details } from the server, or { details } locally
//   disconnected                  the websocket to the server was lost; running sessions
//                                 go on (their media is peer to peer) while the client
//                                 reconnects (detail: ms it will keep trying)
//   reconnected                   connected again: a publisher is registered again and
//                                 running sessions are claimed (resumeSession)
//   close                         the websocket closed for good (stop (), a refused
//                                 token, or no server within the reconnect time): every
//                                 session has ended
// new RtcStreamClient(url, { reconnect: MS }) sets how long it tries to reconnect
// (default 30000; 0: never, every session ends with the connection).
// Events of a Viewer: connectionstatechange (detail: viewer.pc.connectionState),
// ended (detail: why, a short sentence), channelopen (the producer's "data"
// channel is open: viewer.send (text or ArrayBuffer) works), message (detail: a
// string or an ArrayBuffer from the producer). viewer.pc is its RTCPeerConnection
// and viewer.getStats () its stats (stats-overlay.js draws them over the video).
// When the producer opens an "input" channel (rtcstreamsink navigation=true),
// mouse and keyboard events on the video element are sent to it, in the
// video's own pixel coordinates (see docs/protocol.md, "Navigation").
//
// Publishing a MediaStream (getUserMedia) under a stream name, for pipelines
// (rtcstreamsrc) and other viewers to watch:
//
//   const publisher = await client.publish('webcam', mediaStream);
//   publisher.addEventListener('viewers', (e) => console.log(e.detail, 'viewers'));
//   publisher.stop();
//
// On a server that needs tokens (docs/auth.md), give one:
//   new RtcStreamClient(defaultUrl(), { token }) sends it as ?token= on the
// websocket URL (browsers cannot set headers there). A refused token or scope
// comes as an error event with code 'unauthorized' or 'forbidden'.
//
// publish () rejects with an Error whose `code` is 'name-taken' when another
// producer already uses the name. Events of a Publisher: viewers (detail: the
// number of open sessions), ended (detail: why), message (detail: { consumerId,
// data }) when published with { dataChannel: true }; publisher.send (data)
// then reaches every consumer (rtcstreamsrc's text-message signal).

const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

/**
 * Whether the video of pc's negotiated session carries the playout-delay
 * header extension: both descriptions name it in a video section;
 * undefined before both are set.
 */
import { PROTOCOL as DATA_STREAM_PROTOCOL, DataStreamReceiver, DataStreamSender } from './datastream.js';

export { DataStreamReceiver, DataStreamSender };

export function playoutDelayNegotiated (pc) {
  const local = pc.currentLocalDescription?.sdp;
  const remote = pc.currentRemoteDescription?.sdp;
  if (!local || !remote) return undefined;
  const inVideo = (sdp) => sdp.split(/\r?\nm=/).some((m) =>
    /^(m=)?video /.test(m) && m.includes(PLAYOUT_DELAY_URI));
  return inVideo(local) && inVideo(remote);
}

/** The websocket URL of the server that served this page. */
export function defaultUrl () {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

function streamOf (peerId, meta) {
  const name = meta && typeof meta.name === 'string' && meta.name ? meta.name : peerId;
  return { id: peerId, name, meta: meta ?? null };
}

// DOM KeyboardEvent.key -> the key names GStreamer's navigation events use
// (X keysym names); printable characters are sent as they are.
const KEY_NAMES = {
  Enter: 'Return', Escape: 'Escape', Backspace: 'BackSpace', Tab: 'Tab', ' ': 'space',
  Delete: 'Delete', Insert: 'Insert', Home: 'Home', End: 'End', PageUp: 'Prior', PageDown: 'Next',
  ArrowLeft: 'Left', ArrowRight: 'Right', ArrowUp: 'Up', ArrowDown: 'Down',
  Shift: 'Shift_L', Control: 'Control_L', Alt: 'Alt_L', Meta: 'Super_L',
};

function modifiersOf (e) {
  const m = [];
  if (e.shiftKey) m.push('shift');
  if (e.ctrlKey) m.push('control');
  if (e.altKey) m.push('alt');
  if (e.metaKey) m.push('meta');
  return m;
}

/**
 * Sends mouse and keyboard events on a <video> to the producer's "input"
 * channel, as JSON, in the coordinates of the video frame (the element may be
 * larger or smaller, and letterboxed: object-fit contain).
 */
export class NavigationSender {
  constructor (video, channel) {
    this.video = video;
    this.channel = channel;
    this.pendingMove = null;
    if (!video.hasAttribute('tabindex')) video.tabIndex = 0;  // focusable, for keys
    const on = (type, fn) => { video.addEventListener(type, fn); return [type, fn]; };
    this.listeners = [
      on('mousemove', (e) => this.move(e)),
      on('mousedown', (e) => { video.focus(); this.mouse('mouse-button-press', e); }),
      on('mouseup', (e) => this.mouse('mouse-button-release', e)),
      on('wheel', (e) => this.mouse('mouse-scroll', e, { dx: -Math.sign(e.deltaX), dy: -Math.sign(e.deltaY) })),
      on('keydown', (e) => this.key('key-press', e)),
      on('keyup', (e) => this.key('key-release', e)),
      on('contextmenu', (e) => e.preventDefault()),
    ];
  }

  detach () {
    for (const [type, fn] of this.listeners) this.video.removeEventListener(type, fn);
    this.listeners = [];
  }

  /** (x, y) of a mouse event in video pixels, or null outside the picture. */
  toVideo (e) {
    const v = this.video;
    const vw = v.videoWidth, vh = v.videoHeight;
    if (!vw || !vh) return null;
    const r = v.getBoundingClientRect();
    const scale = Math.min(r.width / vw, r.height / vh);
    const x = (e.clientX - r.left - (r.width - vw * scale) / 2) / scale;
    const y = (e.clientY - r.top - (r.height - vh * scale) / 2) / scale;
    if (x < 0 || y < 0 || x >= vw || y >= vh) return null;
    return { x, y, width: vw, height: vh };
  }

  post (msg) {
    if (this.channel.readyState === 'open') this.channel.send(JSON.stringify(msg));
  }

  mouse (type, e, extra = {}) {
    const at = this.toVideo(e);
    if (!at) return;
    const msg = { type, ...at, modifiers: modifiersOf(e), ...extra };
    if (type !== 'mouse-scroll') msg.button = e.button + 1;  // DOM 0,1,2 -> 1,2,3
    this.post(msg);
  }

  // Moves are many: at most one per animation frame.
  move (e) {
    const first = this.pendingMove === null;
    this.pendingMove = e;
    if (!first) return;
    requestAnimationFrame(() => {
      const last = this.pendingMove;
      this.pendingMove = null;
      const at = this.toVideo(last);
      if (at) this.post({ type: 'mouse-move', ...at, modifiers: modifiersOf(last) });
    });
  }

  key (type, e) {
    const key = KEY_NAMES[e.key] ?? e.key;
    if (!key || key === 'Unidentified') return;
    e.preventDefault();
    this.post({ type, key, modifiers: modifiersOf(e) });
  }
}

/** One session with a producer: an RTCPeerConnection answering its offer. */
export class Viewer extends EventTarget {
  constructor (client, stream, video, rtcConfig) {
    super();
    this.client = client;
    this.stream = stream;
    this.video = video;
    this.sessionId = null;
    this.ended = false;
    this.pc = new RTCPeerConnection(rtcConfig);
    // Messages of the session are handled one at a time, in order. Candidates
    // that come before the offer (a producer may send them first) wait for it.
    this.queue = Promise.resolve();
    this.earlyCandidates = [];

    this.pc.addEventListener('icecandidate', (e) => {
      // A null or empty candidate marks the end of candidates: not sent.
      const c = e.candidate;
      if (!c || !c.candidate || c.sdpMLineIndex === null || !this.sessionId) return;
      this.client.send({
        type: 'peer', sessionId: this.sessionId,
        ice: { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex },
      });
    });
    this.pc.addEventListener('track', (e) => {
      if (!(this.video.srcObject instanceof MediaStream)) this.video.srcObject = new MediaStream();
      this.video.srcObject.addTrack(e.track);
      this.video.play().catch(() => {});  // autoplay may need the element muted
    });
    this.pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('connectionstatechange', { detail: this.pc.connectionState }));
      if (this.pc.connectionState === 'failed') this.stop(true, 'the connection failed (ICE or DTLS)');
    });
    this.channel = null;     // "data": application messages
    this.navigation = null;  // listeners on the video while an "input" channel is open
    this.pc.addEventListener('datachannel', (e) => {
      const ch = e.channel;
      if (ch.protocol === DATA_STREAM_PROTOCOL) {
        // A data stream (the producer's data_%u pad): event "datastream".
        const receiver = new DataStreamReceiver(ch);
        this.dispatchEvent(new CustomEvent('datastream', { detail: receiver }));
      } else if (ch.label === 'data') {
        this.channel = ch;
        ch.binaryType = 'arraybuffer';
        const opened = () => this.dispatchEvent(new CustomEvent('channelopen'));
        if (ch.readyState === 'open') opened();
        else ch.addEventListener('open', opened);
        ch.addEventListener('message', (m) => this.dispatchEvent(new CustomEvent('message', { detail: m.data })));
      } else if (ch.label === 'input') {
        this.navigation = new NavigationSender(this.video, ch);
      }
    });
  }

  /** Sends a string or ArrayBuffer on the producer's "data" channel; false if none is open. */
  send (data) {
    if (!this.channel || this.channel.readyState !== 'open') return false;
    this.channel.send(data);
    return true;
  }

  handle (msg) {
    this.queue = this.queue.then(() => this.apply(msg)).catch((err) => {
      const why = `session with "${this.stream.name}": ${err.message || err}`;
      this.client.fail(why);
      this.stop(true, why);
    });
  }

  async apply (msg) {
    if (this.ended) return;
    if (msg.sdp) {
      if (msg.sdp.type !== 'offer') throw new Error(`unexpected SDP ${msg.sdp.type}`);
      await this.pc.setRemoteDescription(msg.sdp);
      for (const c of this.earlyCandidates.splice(0)) await this.pc.addIceCandidate(c);
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      const answer = this.pc.localDescription;
      this.client.send({
        type: 'peer', sessionId: this.sessionId, sdp: { type: answer.type, sdp: answer.sdp },
      });
    } else if (msg.ice && msg.ice.candidate) {
      const candidate = { candidate: msg.ice.candidate, sdpMLineIndex: msg.ice.sdpMLineIndex };
      if (this.pc.remoteDescription) await this.pc.addIceCandidate(candidate);
      else this.earlyCandidates.push(candidate);
    }
  }

  /** The RTCStatsReport of the session (codec, frames, bytes, round trips...). */
  getStats () {
    return this.pc.getStats();
  }

  /**
   * Whether the producer sends the playout-delay RTP header extension on the
   * video (both descriptions name it); undefined before negotiation.
   */
  playoutDelayExtension () {
    return playoutDelayNegotiated(this.pc);
  }

  /**
   * The video receiver's synchronization sources: with the abs-capture-time
   * RTP header extension (rtcstreamsink sends it), each has the capture time
   * of the last frame received (captureTimestamp, the producer's NTP clock)
   * and when it came (timestamp).
   */
  captureSources () {
    const receiver = this.pc.getReceivers().find((r) => r.track?.kind === 'video');
    return receiver ? receiver.getSynchronizationSources() : [];
  }

  /** Ends the session (tells the producer unless it ended it). */
  stop (tellServer = true, why = 'stopped') {
    if (this.ended) return;
    this.ended = true;
    this.endReason = why;
    if (tellServer && this.sessionId) this.client.send({ type: 'endSession', sessionId: this.sessionId });
    this.client.forget(this);
    if (this.navigation) this.navigation.detach();
    this.pc.close();
    if (this.video.srcObject instanceof MediaStream) {
      for (const t of this.video.srcObject.getTracks()) t.stop();
    }
    this.video.srcObject = null;
    this.dispatchEvent(new CustomEvent('ended', { detail: why }));
  }
}

/** One session with a consumer: an RTCPeerConnection offering our tracks. */
export class PublishSession {
  constructor (publisher, consumerId, sessionId) {
    this.publisher = publisher;
    this.client = publisher.client;
    this.consumerId = consumerId;
    this.sessionId = sessionId;
    this.ended = false;
    this.queue = Promise.resolve();
    this.earlyCandidates = [];  // remote candidates before the answer
    const pc = new RTCPeerConnection(this.client.rtcConfig);
    this.pc = pc;
    // Video first, then audio: one sendonly transceiver per track.
    const tracks = publisher.mediaStream.getTracks()
      .sort((a, b) => (a.kind === 'video' ? 0 : 1) - (b.kind === 'video' ? 0 : 1));
    for (const t of tracks) {
      pc.addTransceiver(t, { direction: 'sendonly', streams: [publisher.mediaStream] });
    }
    this.channel = null;
    if (publisher.options.dataChannel) {
      this.channel = pc.createDataChannel('data');
      this.channel.binaryType = 'arraybuffer';
      this.channel.addEventListener('message', (m) => publisher.dispatchEvent(
        new CustomEvent('message', { detail: { consumerId: consumerId, data: m.data } })));
    }
    for (const stream of publisher.dataStreams.values()) {
      stream.addChannel(pc.createDataChannel(stream.name, stream.options));
    }
    pc.addEventListener('icecandidate', (e) => {
      const c = e.candidate;  // null or empty: end of candidates, never sent
      if (!c || !c.candidate || c.sdpMLineIndex === null || this.ended) return;
      this.client.send({
        type: 'peer', sessionId: this.sessionId,
        ice: { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex },
      });
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed') this.stop(true, 'the connection failed (ICE or DTLS)');
    });
  }

  /** Offers (or answers the consumer's offer from its startSession). */
  start (consumerOffer) {
    this.run(async () => {
      if (consumerOffer) {
        await this.pc.setRemoteDescription({ type: 'offer', sdp: consumerOffer });
        await this.pc.setLocalDescription(await this.pc.createAnswer());
      } else {
        await this.pc.setLocalDescription(await this.pc.createOffer());
      }
      const d = this.pc.localDescription;
      this.client.send({ type: 'peer', sessionId: this.sessionId, sdp: { type: d.type, sdp: d.sdp } });
      if (consumerOffer) await this.addEarlyCandidates();
    });
  }

  handle (msg) {
    this.run(async () => {
      if (msg.sdp) {
        if (msg.sdp.type !== 'answer') throw new Error(`unexpected SDP ${msg.sdp.type}`);
        await this.pc.setRemoteDescription(msg.sdp);
        await this.addEarlyCandidates();
      } else if (msg.ice && msg.ice.candidate) {
        const candidate = { candidate: msg.ice.candidate, sdpMLineIndex: msg.ice.sdpMLineIndex };
        if (this.pc.remoteDescription) await this.pc.addIceCandidate(candidate);
        else this.earlyCandidates.push(candidate);
      }
    });
  }

  async addEarlyCandidates () {
    for (const c of this.earlyCandidates.splice(0)) await this.pc.addIceCandidate(c);
  }

  // Steps of the session run one at a time, in order.
  run (step) {
    this.queue = this.queue.then(() => (this.ended ? undefined : step())).catch((err) => {
      const why = `session with consumer ${this.consumerId}: ${err.message || err}`;
      this.client.fail(why);
      this.stop(true, why);
    });
  }

  /** Ends the session (tells the consumer unless it ended it). */
  stop (tellServer = true, why = 'stopped') {
    if (this.ended) return;
    this.ended = true;
    if (tellServer) this.client.send({ type: 'endSession', sessionId: this.sessionId });
    this.client.forget(this);
    this.pc.close();
    this.publisher.sessionEnded(this, why);
  }
}

/** A MediaStream published under a name; one PublishSession per consumer. */
export class Publisher extends EventTarget {
  constructor (client, name, mediaStream, options = {}) {
    super();
    this.client = client;
    this.name = name;
    this.mediaStream = mediaStream;
    this.options = options;
    this.sessions = new Set();
    this.ended = false;
    // options.dataStreams: [{ name, caps, ordered, maxRetransmits, maxPacketLifeTime }],
    // each sent to every consumer (dataStream (name).write ()).
    this.dataStreams = new Map();
    for (const d of options.dataStreams || []) {
      this.dataStreams.set(d.name, new DataStreamSender(d.name, d));
    }
  }

  /** The DataStreamSender of a stream named in options.dataStreams. */
  dataStream (name) { return this.dataStreams.get(name); }

  get viewers () { return this.sessions.size; }

  /** Its meta as registered: options.meta (such as { room }, docs/protocol.md, Rooms) and the name. */
  get meta () { return { ...(this.options.meta || {}), name: this.name }; }

  /** Sends a string or ArrayBuffer to every consumer whose "data" channel is open; returns how many. */
  send (data) {
    let n = 0;
    for (const s of this.sessions) {
      if (s.channel && s.channel.readyState === 'open') { s.channel.send(data); n++; }
    }
    return n;
  }

  startSession (msg) {
    const session = new PublishSession(this, msg.peerId, msg.sessionId);
    this.sessions.add(session);
    this.client.sessions.set(msg.sessionId, session);
    this.changed();
    session.start(msg.offer);
  }

  sessionEnded (session, why) {
    this.sessions.delete(session);
    console.info(`rtcstream: session ${session.sessionId} ended: ${why}`);
    this.changed();
  }

  changed () {
    this.dispatchEvent(new CustomEvent('viewers', { detail: this.sessions.size }));
  }

  /** Ends every session and stops producing (the tracks keep running). */
  stop (why = 'stopped') {
    if (this.ended) return;
    this.ended = true;
    for (const s of [...this.sessions]) s.stop();
    if (this.client.publisher === this) {
      this.client.publisher = null;
      this.client.send({ type: 'setPeerStatus', roles: ['listener'], meta: null });
    }
    this.dispatchEvent(new CustomEvent('ended', { detail: why }));
  }
}

/** A connection to the server, as a listener and a consumer (and a producer once publishing). */
export class RtcStreamClient extends EventTarget {
  constructor (url = defaultUrl(), { rtcConfig = {}, token = null, reconnect = 30000 } = {}) {
    super();
    this.url = url;
    this.token = token;              // sent as ?token= (docs/auth.md)
    this.reconnectMs = reconnect;    // how long to try again after a lost connection
    this.stopped = false;            // stop () called: no reconnection
    this.reconnecting = null;        // { until, delay, timer } while reconnecting
    this.reclaiming = null;          // until when our name is asked for again after one
    this.lastError = null;           // the last error from the server { code, details }
    this.rtcConfig = rtcConfig;
    this.ws = null;
    this.peerId = null;
    this.streams = new Map();        // producer peer id -> stream
    this.sessions = new Map();       // session id -> Viewer
    this.starting = [];              // viewers waiting for sessionStarted, in order
    this.listing = [];               // resolvers of listStreams (), in order
    this.publisher = null;           // the Publisher, once publish () resolved
    this.registering = null;         // { publisher, resolve, reject } while publish () waits
  }

  /** Opens the websocket; resolves on the server's welcome. */
  connect () {
    this.stopped = false;
    return this.open();
  }

  // One websocket: resolves on its welcome, rejects if it closes before.
  open () {
    return new Promise((resolve, reject) => {
      const target = new URL(this.url);
      if (this.token) target.searchParams.set('token', this.token);
      const ws = new WebSocket(target.href);
      this.ws = ws;
      let welcomed = false;
      ws.addEventListener('message', (e) => {
        if (this.ws !== ws) return;
        let msg;
        try { msg = JSON.parse(e.data); } catch { return; }
        if (msg.type === 'welcome') {
          welcomed = true;
          this.peerId = msg.peerId;
          // The server's STUN/TURN servers (its --ice-server, with TURN
          // credentials of this connection's own), unless the page chose some.
          if (Array.isArray(msg.iceServers) && !this.rtcConfig.iceServers) {
            this.rtcConfig = { ...this.rtcConfig, iceServers: msg.iceServers };
          }
          this.send({ type: 'setPeerStatus', roles: ['listener'], meta: null });
          this.send({ type: 'list' });
          resolve(this);
        }
        this.receive(msg);
      });
      ws.addEventListener('error', () => reject(new Error(`cannot connect to ${this.url}`)));
      ws.addEventListener('close', () => {
        if (this.ws !== ws) return;
        // A refused token closes the connection right after saying why.
        const refused = this.lastError?.code === 'unauthorized' ? `: ${this.lastError.details}` : '';
        reject(new Error(`${this.url} closed the connection${refused}`));
        // Lost after a welcome, or a try to reconnect that failed: (try) again.
        if (!refused && !this.stopped && this.reconnectMs > 0 && (welcomed || this.reconnecting)) this.lost();
        else this.closed();
      });
    });
  }

  // The connection was lost: sessions go on peer to peer while we try again,
  // every 250 ms doubling to 1 s (with jitter), for reconnectMs.
  lost () {
    if (!this.reconnecting) {
      this.reconnecting = { until: Date.now() + this.reconnectMs, delay: 250 };
      // Sessions not started yet cannot go on: their producer never heard of them.
      for (const v of [...this.starting]) v.stop(false, 'the server closed the connection');
      this.registered(new Error(`${this.url} closed the connection`));
      this.dispatchEvent(new CustomEvent('disconnected', { detail: this.reconnectMs }));
    }
    const r = this.reconnecting;
    if (Date.now() >= r.until) {
      this.reconnecting = null;
      this.closed();
      return;
    }
    const wait = r.delay * (0.75 + Math.random() / 2);
    r.delay = Math.min(1000, r.delay * 2);
    r.timer = setTimeout(() => {
      if (this.stopped) return;
      this.open().then(() => this.resume(), () => {});  // a failed try closes: lost () again
    }, wait);
  }

  // Connected again after lost (): register the stream again and claim the
  // sessions that went on (docs/protocol.md, "Reconnecting").
  resume () {
    this.reconnecting = null;
    const publisher = this.publisher;
    if (publisher) {
      this.reclaiming = Date.now() + this.reconnectMs;  // name-taken: ask again until then
      this.send({ type: 'setPeerStatus', roles: ['producer', 'listener'], meta: publisher.meta });
      for (const s of publisher.sessions) this.send({ type: 'resumeSession', sessionId: s.sessionId, as: 'producer' });
    }
    for (const v of this.sessions.values()) {
      if (v instanceof Viewer) this.send({ type: 'resumeSession', sessionId: v.sessionId, as: 'consumer' });
    }
    this.dispatchEvent(new CustomEvent('reconnected'));
  }

  // The connection is gone for good: every session ends.
  closed () {
    for (const v of [...this.sessions.values(), ...this.starting]) {
      v.stop(false, 'the server closed the connection');
    }
    this.registered(new Error(`${this.url} closed the connection`));
    if (this.publisher) this.publisher.stop('the server closed the connection');
    this.dispatchEvent(new CustomEvent('close'));
  }

  send (msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Asks the server for the producers; resolves with the streams. */
  listStreams () {
    return new Promise((resolve) => {
      this.listing.push(resolve);
      this.send({ type: 'list' });
    });
  }

  /** Plays the stream named `name` (or with that producer id) in `video`. */
  async watch (name, video) {
    let stream = this.find(name);
    if (!stream) {
      await this.listStreams();
      stream = this.find(name);
    }
    if (!stream) throw new Error(`no stream named "${name}" is live`);
    const viewer = new Viewer(this, stream, video, this.rtcConfig);
    this.starting.push(viewer);
    this.send({ type: 'startSession', peerId: stream.id });
    return viewer;
  }

  /**
   * Publishes the tracks of `mediaStream` as the stream `name`; resolves with a
   * Publisher once the server registered it. Connect first. Rejects with an
   * Error (err.code 'name-taken') if another producer uses the name.
   * options.dataChannel: open a "data" channel to each consumer.
   * options.meta: more fields for the stream's meta (name is always `name`).
   * options.dataStreams: data streams to send, [{ name: 'data_0', caps: 'application/x-foo',
   * ordered, maxRetransmits, maxPacketLifeTime }] (docs/elements.md "Data streams");
   * mediaStream may have no tracks (a data-only stream).
   */
  publish (name, mediaStream, options = {}) {
    if (typeof name !== 'string' || !name) return Promise.reject(new Error('a stream name is required'));
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error('not connected: call connect () first'));
    }
    if (this.publisher || this.registering) {
      return Promise.reject(new Error('already publishing: stop the current stream first'));
    }
    return new Promise((resolve, reject) => {
      this.registering = { publisher: new Publisher(this, name, mediaStream, options), resolve, reject };
      this.send({ type: 'setPeerStatus', roles: ['producer', 'listener'], meta: this.registering.publisher.meta });
    });
  }

  // Settles a pending publish (): with an Error, rejects it.
  registered (err) {
    const r = this.registering;
    if (!r) return;
    this.registering = null;
    if (err) {
      r.reject(err);
    } else {
      this.publisher = r.publisher;
      r.resolve(r.publisher);
    }
  }

  /** Ends every session and closes the websocket. */
  stop () {
    this.stopped = true;
    if (this.reconnecting) {
      clearTimeout(this.reconnecting.timer);
      this.reconnecting = null;
    }
    if (this.publisher) this.publisher.stop();
    for (const v of [...this.sessions.values(), ...this.starting]) v.stop();
    if (this.ws) this.ws.close(1000);
  }

  find (name) {
    for (const s of this.streams.values()) if (s.name === name || s.id === name) return s;
    return null;
  }

  forget (viewer) {
    this.sessions.delete(viewer.sessionId);
    this.starting = this.starting.filter((v) => v !== viewer);
  }

  fail (details, code = 'error') {
    this.lastError = { code, details };
    this.dispatchEvent(new CustomEvent('error', { detail: { code, details } }));
  }

  setStreams (list) {
    const seen = new Set(list.map((s) => s.id));
    for (const [id, s] of this.streams) {
      if (!seen.has(id)) this.removeStream(id, false);
    }
    for (const s of list) this.addStream(s, false);
    this.changed();
  }

  addStream (stream, notify = true) {
    const known = this.streams.get(stream.id);
    this.streams.set(stream.id, stream);
    if (!known) this.dispatchEvent(new CustomEvent('streamadded', { detail: stream }));
    if (notify) this.changed();
  }

  removeStream (id, notify = true) {
    const stream = this.streams.get(id);
    if (!stream) return;
    this.streams.delete(id);
    this.dispatchEvent(new CustomEvent('streamremoved', { detail: stream }));
    if (notify) this.changed();
  }

  changed () {
    this.dispatchEvent(new CustomEvent('streams', { detail: [...this.streams.values()] }));
  }

  receive (msg) {
    switch (msg.type) {
      case 'list': {
        const list = (msg.producers || []).map((p) => streamOf(p.id, p.meta));
        this.setStreams(list);
        const resolve = this.listing.shift();
        if (resolve) resolve(list);
        break;
      }
      case 'peerStatusChanged':
        if ((msg.roles || []).includes('producer')) this.addStream(streamOf(msg.peerId, msg.meta));
        else this.removeStream(msg.peerId);
        if (msg.peerId === this.peerId && (msg.roles || []).includes('producer')
            && this.registering && msg.meta?.name === this.registering.publisher.name) {
          this.registered(null);
        }
        if (msg.peerId === this.peerId && (msg.roles || []).includes('producer')) this.reclaiming = null;
        break;
      case 'startSession':  // a consumer wants our stream
        if (this.publisher) this.publisher.startSession(msg);
        else this.send({ type: 'endSession', sessionId: msg.sessionId });
        break;
      case 'sessionStarted': {
        const i = this.starting.findIndex((v) => v.stream.id === msg.peerId);
        if (i < 0) {  // not ours any more: end it
          this.send({ type: 'endSession', sessionId: msg.sessionId });
          break;
        }
        const viewer = this.starting.splice(i, 1)[0];
        viewer.sessionId = msg.sessionId;
        this.sessions.set(msg.sessionId, viewer);
        break;
      }
      case 'peer': {
        const viewer = this.sessions.get(msg.sessionId);
        if (viewer) viewer.handle(msg);
        break;
      }
      case 'endSession': {
        const viewer = this.sessions.get(msg.sessionId);
        if (viewer) viewer.stop(false, 'the other peer ended the session');
        break;
      }
      case 'error':
        // After a reconnection the server may still hold our name for the lost
        // connection (until it notices, three ping intervals): ask again each
        // second while the reconnect time lasts.
        if (msg.code === 'name-taken' && this.reclaiming && this.publisher) {
          const publisher = this.publisher;
          if (Date.now() < this.reclaiming) {
            setTimeout(() => {
              if (this.publisher === publisher && this.reclaiming) {
                this.send({ type: 'setPeerStatus', roles: ['producer', 'listener'], meta: publisher.meta });
              }
            }, 1000);
            break;
          }
          this.reclaiming = null;
          publisher.stop(`the stream name "${publisher.name}" stayed taken after the reconnection`);
        }
        // A refused setPeerStatus fails the publish () waiting for it.
        if (this.registering && ['name-taken', 'invalid-message', 'not-allowed', 'unauthorized',
          'forbidden'].includes(msg.code)) {
          const err = new Error(msg.code === 'name-taken'
            ? `the stream name "${this.registering.publisher.name}" is taken: ${msg.details}`
            : msg.details);
          err.code = msg.code;
          this.registered(err);
        }
        // A refused startSession is answered with an error instead of
        // sessionStarted: give up the oldest start still waiting.
        if (['unknown-peer', 'not-producer', 'limit-reached', 'not-allowed', 'unauthorized',
          'forbidden'].includes(msg.code) && this.starting.length) {
          this.starting[0].stop(false, msg.details);
        }
        this.fail(msg.details, msg.code || 'error');
        break;
      default:
        // Messages of extensions (rooms: room.js) are for whoever listens.
        this.dispatchEvent(new CustomEvent('servermessage', { detail: msg }));
        break;
    }
  }
}

/** Connects to the server of this page (or `url`) and publishes `mediaStream` as `name`. */
export async function publish (name, mediaStream, url = defaultUrl(), options = {}) {
  const client = new RtcStreamClient(url);
  await client.connect();
  try {
    return await client.publish(name, mediaStream, options);
  } catch (err) {
    client.stop();
    throw err;
  }
}
