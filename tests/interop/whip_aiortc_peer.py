#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# An aiortc peer for the WHIP/WHEP endpoints of rtcstream-signalling, run by
# tests/integration/test_whip_server.cpp with /usr/bin/python3 (Debian's
# python3-aiortc).
#
#   whip_aiortc_peer.py play URL [--frames N] [--timeout S] [--token T] [--audio | --audio-first]
#       WHEP: POSTs a recvonly video offer to URL (http://HOST:PORT/whep/NAME)
#       (with --audio also audio after the video, with --audio-first audio before it),
#       prints "PLAYING LOCATION" once answered, decodes the video, prints
#       "frames N" as it goes and "FRAMES N" at the end, then DELETEs its
#       session. Exit 0 once N frames were decoded.
#   whip_aiortc_peer.py publish URL [--seconds S] [--token T]
#       WHIP: publishes a moving test pattern to URL (http://HOST:PORT/whip/NAME),
#       prints "PUBLISHING LOCATION" once answered, stops after S seconds or
#       when stdin closes, then DELETEs its session.
#
# Non-trickle: aiortc gathers every candidate before the offer is sent.
import argparse
import logging
import os
import asyncio
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame


class PatternTrack(VideoStreamTrack):
    """A 320x240 30 fps test pattern whose bars move, so every frame differs."""

    def __init__(self):
        super().__init__()
        self.count = 0
        bars = numpy.zeros((240, 320, 3), numpy.uint8)
        colours = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
                   (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)]
        for i, colour in enumerate(colours):
            bars[:, i * 40:(i + 1) * 40] = colour
        self.bars = bars

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        image = numpy.roll(self.bars, self.count * 4, axis=1)
        self.count += 1
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


def http(method, url, body=None, content_type=None, token=None):
    """One request; returns (status, headers, body text). Blocking, short."""
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


async def exchange(pc, url, token):
    await pc.setLocalDescription(await pc.createOffer())
    loop = asyncio.get_running_loop()
    status, headers, text = await loop.run_in_executor(
        None, http, "POST", url, pc.localDescription.sdp, "application/sdp", token)
    if status != 201:
        print(f"POST {url} -> {status}: {text.strip()}", flush=True)
        return None
    location = urllib.parse.urljoin(url, headers["Location"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=text, type="answer"))
    return location


async def play(args):
    pc = RTCPeerConnection()
    if args.audio_first:
        pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    if args.audio:
        pc.addTransceiver("audio", direction="recvonly")
    done = asyncio.Event()
    frames = 0

    @pc.on("track")
    def on_track(track):
        if track.kind != "video":
            return

        async def consume():
            nonlocal frames
            while not done.is_set():
                try:
                    await track.recv()
                except Exception:
                    break
                frames += 1
                if frames % 10 == 0:
                    print(f"frames {frames}", flush=True)
                if frames >= args.frames:
                    done.set()
        asyncio.ensure_future(consume())

    location = await exchange(pc, args.url, args.token)
    if location:
        print(f"PLAYING {location}", flush=True)
        try:
            await asyncio.wait_for(done.wait(), args.timeout)
        except asyncio.TimeoutError:
            pass
        http("DELETE", location, token=args.token)
    print(f"FRAMES {frames}", flush=True)
    await pc.close()
    return 0 if frames >= args.frames else 1


async def publish(args):
    pc = RTCPeerConnection()
    pc.addTransceiver(PatternTrack(), direction="sendonly")
    location = await exchange(pc, args.url, args.token)
    if not location:
        await pc.close()
        return 1
    print(f"PUBLISHING {location}", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    try:
        await asyncio.wait_for(asyncio.shield(stdin_closed), args.seconds)
    except asyncio.TimeoutError:
        pass
    http("DELETE", location, token=args.token)
    await pc.close()
    print("STOPPED", flush=True)
    return 0


def main():
    if os.environ.get("AIORTC_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["play", "publish"])
    parser.add_argument("url")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--token")
    parser.add_argument("--audio", action="store_true", help="play: also ask for audio")
    parser.add_argument("--audio-first", action="store_true",
                        help="play: also ask for audio, in the first m-line")
    args = parser.parse_args()
    start = time.monotonic()
    code = asyncio.run(play(args) if args.mode == "play" else publish(args))
    print(f"took {time.monotonic() - start:.1f} s", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
