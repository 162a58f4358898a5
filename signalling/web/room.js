// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A participant of a room in the browser (docs/protocol.md, Rooms): publishes
// a MediaStream as ROOM:PARTICIPANT with meta.room, and watches every other
// participant the server reports (roomJoined, participantJoined), until it
// leaves (participantLeft). Built on RtcStreamClient: one websocket, one
// RTCPeerConnection per other participant and direction (a mesh).
//
//   import { Room } from './room.js';
//   const room = new Room('meet', 'alice', cameraStream);
//   room.addEventListener('participantjoined', (e) => grid.append(e.detail.video));
//   room.addEventListener('participantvideo', (e) => grid.append(e.detail.video));  // a 2nd video
//   room.addEventListener('participantleft', (e) => e.detail.videos.forEach((v) => v.remove()));
//   await room.join();
import { RtcStreamClient, defaultUrl } from './rtcstream.js';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const RETRY_MS = 1000;
const MAX_ATTEMPTS = 3;
const REJOIN_GRACE_MS = 10000;

export class Room extends EventTarget {
  /**
   * room, participant: names of 1 to 64 ASCII letters, digits, '-', '_', '.'.
   * options: url (the server's websocket), token (docs/auth.md), rtcConfig.
   */
  constructor (room, participant, mediaStream, { url = defaultUrl(), token = null, rtcConfig = {} } = {}) {
    super();
    if (!NAME.test(room)) throw new Error(`invalid room name "${room}": use 1 to 64 letters, digits, - _ .`);
    if (!NAME.test(participant)) throw new Error(`invalid participant name "${participant}": use 1 to 64 letters, digits, - _ .`);
    this.room = room;
    this.participant = participant;
    this.mediaStream = mediaStream;
    this.client = new RtcStreamClient(url, { token, rtcConfig });
    this.publisher = null;
    this.others = new Map();  // peer id -> { participant, video, viewer, attempts }
    this.left = false;
    this.client.addEventListener('servermessage', (e) => this.receive(e.detail));
  }

  /** The names of the other participants now. */
  get participants () { return [...this.others.values()].map((o) => o.participant); }

  /** Connects and publishes; resolves once in the room. Rejects (err.code) if refused. */
  async join () {
    await this.client.connect();
    this.publisher = await this.client.publish(`${this.room}:${this.participant}`, this.mediaStream,
      { meta: { room: this.room } });
    this.client.addEventListener('close', () => this.leave('the server closed the connection'));
    return this;
  }

  receive (msg) {
    if (this.left || msg.room !== this.room) return;
    if (msg.type === 'roomJoined') {
      // Again after a reconnection: one back under a new peer id (the server
      // restarted) is the same participant, whose session resumes; one not
      // back yet may be reconnecting too, and has REJOIN_GRACE_MS to come back.
      const now = new Map((msg.participants || []).map((p) => [p.meta?.name, p.id]));
      for (const [id, other] of [...this.others]) {
        const newId = now.get(`${this.room}:${other.participant}`);
        if (newId === undefined) this.keepAwhile(other);
        else if (newId !== id) this.rekey(other, newId);
      }
      for (const p of msg.participants || []) this.add(p.id, p.meta);
    } else if (msg.type === 'participantJoined') {
      const back = [...this.others.values()].find((o) => o.awaited && msg.meta?.name === `${this.room}:${o.participant}`);
      if (back) this.rekey(back, msg.peerId);
      else this.add(msg.peerId, msg.meta);
    } else if (msg.type === 'participantLeft') {
      // A lost connection (lost: true) may come back: it has a while to.
      const other = this.others.get(msg.peerId);
      if (msg.lost && other) this.keepAwhile(other);
      else this.remove(msg.peerId);
    }
  }

  keepAwhile (other) {
    clearTimeout(other.awaited);
    other.awaited = setTimeout(() => { if (other.awaited) this.remove(other.id); }, REJOIN_GRACE_MS);
  }

  rekey (other, id) {
    clearTimeout(other.awaited);
    other.awaited = null;
    this.others.delete(other.id);
    other.id = id;
    this.others.set(id, other);
  }

  add (id, meta) {
    const stream = meta?.name || '';
    if (this.others.has(id) || !stream.startsWith(`${this.room}:`)) return;
    const participant = stream.slice(this.room.length + 1);
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const other = { id, participant, video, videos: [video], viewer: null, attempts: 0, awaited: null };
    this.others.set(id, other);
    this.dispatchEvent(new CustomEvent('participantjoined', { detail: { participant, video } }));
    this.watch(other);
  }

  // Watches a participant; a session that fails or ends while it is still
  // in the room is tried again, a few times.
  async watch (other) {
    other.attempts++;
    const current = () => this.others.get(other.id) === other && !this.left;
    try {
      other.viewer = await this.client.watch(other.id, other.video);
      // A participant that sends more than one video (a screen and a camera):
      // its first plays in `video`, each other one in a video of its own.
      let videoTracks = 0;
      other.viewer.pc.addEventListener('track', (e) => {
        if (e.track.kind !== 'video' || videoTracks++ === 0) return;
        const more = document.createElement('video');
        more.autoplay = true;
        more.muted = true;
        more.playsInline = true;
        more.srcObject = new MediaStream([e.track]);
        other.videos.push(more);
        this.dispatchEvent(new CustomEvent('participantvideo', { detail: { participant: other.participant, video: more } }));
      });
      other.viewer.addEventListener('ended', (e) => {
        if (!current()) return;
        console.info(`rtcstream room: ${other.participant}: ${e.detail}`);
        if (other.attempts < MAX_ATTEMPTS) setTimeout(() => current() && this.watch(other), RETRY_MS);
      });
    } catch (err) {
      console.warn(`rtcstream room: cannot watch ${other.participant}: ${err.message}`);
      if (other.attempts < MAX_ATTEMPTS) setTimeout(() => current() && this.watch(other), RETRY_MS);
    }
  }

  remove (id) {
    const other = this.others.get(id);
    if (!other) return;
    clearTimeout(other.awaited);
    this.others.delete(id);
    if (other.viewer) other.viewer.stop();
    for (const v of other.videos.slice(1)) v.srcObject = null;
    this.dispatchEvent(new CustomEvent('participantleft', { detail: { participant: other.participant, video: other.video, videos: other.videos } }));
  }

  /** Leaves the room: every session ends, the websocket closes. */
  leave (why = 'left') {
    if (this.left) return;
    this.left = true;
    for (const id of [...this.others.keys()]) this.remove(id);
    this.client.stop();
    this.dispatchEvent(new CustomEvent('left', { detail: why }));
  }
}
