#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small WHIP and WHEP endpoint built on aiortc, a WebRTC stack no one here
wrote, for the interop tests of rtcstream's WHIP/WHEP clients.

  POST /whip/NAME   takes an offer, answers, receives the stream and decodes it
  POST /whep/NAME   takes an offer, answers, sends a moving test pattern
                    (also /NAME/whip and /NAME/whep, the paths of MediaMTX)
  POST /broken/content-type, /broken/sdp   a 201 with HTML, or with a non-SDP body
  PATCH /resource/ID  trickled candidates (application/trickle-ice-sdpfrag)
  DELETE /resource/ID ends the session

HTTP binds 127.0.0.1 on a free port. ICE uses this host's own interface
addresses, as webrtcbin does (libnice and aioice both leave loopback out), so
nothing leaves the machine. What happens is reported as JSON lines on stdout
(the test reads them):
  {"event": "listening", "port": N}
  {"event": "post", "path": ..., "authorized": bool, "offer_candidates": N}
  {"event": "patch", "candidates": N, "end": bool}   (or "patch-refused")
  {"event": "frames", "kind": "video", "count": N, "width": W, "height": H}
  {"event": "sent", "count": N}
  {"event": "delete", "path": ...}

Usage: whip_endpoint.py [--token TOKEN] [--no-trickle] [--tls-cert PEM --tls-key PEM]
                        [--ice-server 'URL;username;credential' ...]
"""

import argparse
import asyncio
import fractions
import json
import logging
import os
import signal
import ssl
import sys
import threading
import uuid

import numpy
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame


MAX_BODY = 1024 * 1024


def report(**fields):
    print(json.dumps(fields), flush=True)


class PatternTrack(VideoStreamTrack):
    """320x240 frames at 30 fps with a bar moving across a gradient."""

    def __init__(self):
        super().__init__()
        self.count = 0
        ramp = numpy.linspace(0, 255, 320, dtype=numpy.uint8)
        self.base = numpy.stack([numpy.tile(ramp, (240, 1))] * 3, axis=2)

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        img = self.base.copy()
        x = (self.count * 4) % 320
        img[:, x:x + 16, :] = (255, 0, 0)
        frame = VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base or fractions.Fraction(1, 90000)
        self.count += 1
        if self.count in (1, 30) or self.count % 60 == 0:
            report(event="sent", count=self.count)
        return frame


class Endpoint:
    def __init__(self, args):
        self.token = args.token
        self.trickle = not args.no_trickle
        self.ice_servers = args.ice_server or []
        self.sessions = {}  # resource path -> RTCPeerConnection
        self.tasks = set()

    # --- HTTP plumbing -----------------------------------------------------

    async def serve(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    h = (await reader.readline()).decode("latin-1").rstrip("\r\n")
                    if not h:
                        break
                    name, _, value = h.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length > MAX_BODY:
                    await self.respond(writer, 413, "Payload Too Large", {}, b"too large")
                    break
                body = await reader.readexactly(length) if length else b""
                status, reason, extra, payload = await self.handle(
                    method, path, headers, body)
                await self.respond(writer, status, reason, extra, payload)
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def respond(self, writer, status, reason, extra, payload):
        lines = [f"HTTP/1.1 {status} {reason}"]
        for name, value in extra.items():
            values = value if isinstance(value, list) else [value]
            lines += [f"{name}: {v}" for v in values]
        lines.append(f"Content-Length: {len(payload)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        await writer.drain()

    # --- WHIP / WHEP -------------------------------------------------------

    async def handle(self, method, path, headers, body):
        # Broken endpoints, for the clients' error paths.
        if method == "POST" and path == "/broken/content-type":
            return 201, "Created", {"Content-Type": "text/html", "Location": "/r/x"}, b"<html/>"
        if method == "POST" and path == "/broken/sdp":
            return 201, "Created", {"Content-Type": "application/sdp", "Location": "/r/x"}, b"hi"
        whip = path.startswith("/whip/") or path.endswith("/whip")
        whep = path.startswith("/whep/") or path.endswith("/whep")
        if method == "POST" and (whip or whep):
            authorized = (self.token is None or
                          headers.get("authorization") == f"Bearer {self.token}")
            report(event="post", path=path, authorized=authorized,
                   offer_candidates=body.count(b"a=candidate:"))
            if not authorized:
                return 401, "Unauthorized", {"Content-Type": "text/plain"}, b"bad token"
            if headers.get("content-type", "").split(";")[0] != "application/sdp":
                return 415, "Unsupported Media Type", {}, b""
            return await self.offer(whip, body.decode())
        if path in self.sessions:
            if method == "PATCH":
                if not self.trickle:
                    report(event="patch-refused")
                    return 405, "Method Not Allowed", {"Allow": "POST, DELETE"}, b""
                await self.patch(self.sessions[path], body.decode())
                return 204, "No Content", {}, b""
            if method == "DELETE":
                report(event="delete", path=path)
                pc = self.sessions.pop(path)
                await pc.close()
                return 200, "OK", {}, b""
        return 404, "Not Found", {"Content-Type": "text/plain"}, b"no such resource"

    async def offer(self, receive, sdp):
        pc = RTCPeerConnection()

        @pc.on("track")
        def on_track(track):
            report(event="track", kind=track.kind)
            task = asyncio.ensure_future(self.consume(track))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        @pc.on("connectionstatechange")
        async def on_state():
            report(event="state", state=pc.connectionState)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if not receive:
            pc.addTrack(PatternTrack())
        await pc.setLocalDescription(await pc.createAnswer())
        resource = "/resource/" + uuid.uuid4().hex
        self.sessions[resource] = pc
        links = []
        for server in self.ice_servers:
            url, _, rest = server.partition(";")
            user, _, cred = rest.partition(";")
            link = f'<{url}>; rel="ice-server"'
            if user:
                link += f'; username="{user}"; credential="{cred}"; credential-type="password"'
            links.append(link)
        extra = {"Content-Type": "application/sdp", "Location": resource,
                 "ETag": '"' + uuid.uuid4().hex + '"'}
        if links:
            extra["Link"] = links
        return 201, "Created", extra, pc.localDescription.sdp.encode()

    async def patch(self, pc, frag):
        mid, count, end = None, 0, False
        for line in frag.splitlines():
            if line.startswith("a=mid:"):
                mid = line[6:]
            elif line.startswith("a=candidate:"):
                cand = candidate_from_sdp(line[12:])
                cand.sdpMid = mid if mid is not None else "0"
                await pc.addIceCandidate(cand)
                count += 1
            elif line.startswith("a=end-of-candidates"):
                end = True
        report(event="patch", candidates=count, end=end)

    async def consume(self, track):
        count = 0
        try:
            while True:
                frame = await track.recv()
                count += 1
                if count in (1, 30) or count % 60 == 0:
                    report(event="frames", kind=track.kind, count=count,
                           width=getattr(frame, "width", 0), height=getattr(frame, "height", 0))
        except Exception:  # the track ended (MediaStreamError) or the session closed
            pass


async def main():
    if os.environ.get("WHIP_ENDPOINT_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token")
    parser.add_argument("--no-trickle", action="store_true")
    parser.add_argument("--ice-server", action="append")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate")
    parser.add_argument("--tls-key", help="and this PEM key")
    args = parser.parse_args()
    endpoint = Endpoint(args)
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    server = await asyncio.start_server(endpoint.serve, "127.0.0.1", 0, ssl=context)
    report(event="listening", port=server.sockets[0].getsockname()[1])
    # Ends when the test closes our stdin, or on Ctrl-C / SIGTERM. stdin is
    # read by a daemon thread, which does not hold up the exit.
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(done.set)),
                     daemon=True).start()
    await done.wait()
    server.close()
    for pc in list(endpoint.sessions.values()):
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
