#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What rtcstream-signalling does under the attacks of issue 12, measured on a
# given binary, so that two builds can be compared side by side:
#
#   bench/server-attacks.py build/signalling/rtcstream-signalling [BASELINE_BINARY]
#
# Each attack starts a fresh server (--port 0, default options) and prints
# one markdown table row per binary. ATTACKS=ws,whip runs instead the
# websocket 1009 check and 20 WHIP offers that never connect (with the
# plugin of each binary's build directory). Long and large on purpose (1 GiB bodies,
# 1000 slow connections, 20 s waits): about 2 minutes per binary. The server
# suite (tests/server/test_server_limits.cpp) checks the same behaviours fast.
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time

resource.setrlimit(resource.RLIMIT_NOFILE, (8192, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


class Server:
    def __init__(self, binary, prefix=()):
        self.proc = subprocess.Popen([*prefix, binary, "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        self.port = int(re.search(r":(\d+)/ws", line).group(1))

    def status(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return -1

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def closed(s, wait=0.0):
    s.settimeout(wait if wait > 0 else 0.0001)
    try:
        data = s.recv(65536)
        return data == b"" or None  # None: got data, still open
    except socket.timeout:
        return False
    except BlockingIOError:
        return False
    except OSError:
        return True


def read_all(s):
    """What the server sends until it closes (or the socket times out)."""
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    return data


def get(port, timeout=5):
    t0 = time.monotonic()
    try:
        s = connect(port, timeout)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_all(s)
        s.close()
        return data.startswith(b"HTTP/1.1 200"), time.monotonic() - t0
    except OSError:
        return False, time.monotonic() - t0


def big_body(binary):
    """1 GiB POST /whip/x: status, RSS growth (MiB) kept and peak, bytes the server took."""
    srv = Server(binary)
    rss0, hwm0 = srv.status("VmRSS"), srv.status("VmHWM")
    s = connect(srv.port, 60)
    size = 1 << 30
    s.sendall(b"POST /whip/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
              b"Content-Length: %d\r\n\r\n" % size)
    sent = 0
    chunk = b"a" * (1 << 20)
    got = []
    t = threading.Thread(target=lambda: got.append(read_all(s)))
    t.start()
    try:
        while sent < size:
            sent += s.send(chunk[:min(len(chunk), size - sent)])
    except OSError:
        pass
    t.join(30)
    s.close()
    time.sleep(1)
    reply = got[0] if got else b""
    status = reply.split(b"\r\n", 1)[0].decode(errors="replace") or "(none)"
    row = (status, (srv.status("VmRSS") - rss0) / 1024, (srv.status("VmHWM") - hwm0) / 1024,
           sent / (1 << 20))
    srv.stop()
    return row


def huge_length(binary):
    """Content-Length 10 GB and no body: status, seconds until the server closes (cap 30)."""
    srv = Server(binary)
    s = connect(srv.port, 35)
    s.sendall(b"POST /whip/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
              b"Content-Length: 10737418240\r\n\r\n")
    t0 = time.monotonic()
    s.settimeout(30)
    reply = read_all(s)
    took = time.monotonic() - t0
    srv.stop()
    status = reply.split(b"\r\n", 1)[0].decode(errors="replace") or "(none)"
    return status, took


def idle(binary, wait=20):
    """1000 slowloris, 200 silent, 200 partial bodies: how many are still open after `wait` s."""
    srv = Server(binary)
    fds0, rss0 = srv.fds(), srv.status("VmRSS")
    slow, silent, partial = [], [], []
    for _ in range(1000):
        s = connect(srv.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    for _ in range(200):
        silent.append(connect(srv.port))
    for _ in range(200):
        s = connect(srv.port)
        s.sendall(b"POST /whip/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                  b"Content-Length: 5000\r\n\r\nv=0\r\n")
        partial.append(s)
    time.sleep(1)  # let the server accept them all
    peak_fds = srv.fds()
    end = time.monotonic() + wait
    n = 0
    while time.monotonic() < end:
        for s in slow:
            try:
                s.send(b"X-%d: 1\r\n" % n)
            except OSError:
                pass
        n += 1
        time.sleep(1)
    still = [sum(1 for s in g if not closed(s)) for g in (slow, silent, partial)]
    fds_end, rss_end = srv.fds(), srv.status("VmRSS")
    for g in (slow, silent, partial):
        for s in g:
            s.close()
    srv.stop()
    return still, peak_fds - fds0, fds_end - fds0, (rss_end - rss0) / 1024


def fd_exhaustion(binary):
    """Under ulimit -n 1024: 1100 connections held, then freed; is a new client served?"""
    srv = Server(binary, ("prlimit", "--nofile=1024:1024", "--"))
    held = []
    for _ in range(1100):
        try:
            held.append(connect(srv.port, 2))
        except OSError:
            break
    time.sleep(1)
    for s in held:
        s.close()
    time.sleep(1)
    ok, took = False, 0.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 15 and not ok:
        ok, _ = get(srv.port, 3)
    took = time.monotonic() - t0
    alive = srv.alive()
    srv.stop()
    return ok, took, alive


def burst(binary, n=500):
    """n clients connecting and GETting / at once: p50/p90 seconds and failures."""
    srv = Server(binary)
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        results[i] = get(srv.port, 10)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    srv.stop()
    times = sorted(t for ok, t in results if ok)
    fails = sum(1 for ok, _ in results if not ok)
    p = lambda q: times[int(q * (len(times) - 1))] if times else float("nan")
    return p(0.5), p(0.9), fails


def threads(srv):
    return len(os.listdir(f"/proc/{srv.proc.pid}/task"))


def whip_offers(binary, n=20, wait=40):
    """n WHIP offers that never connect, 2 per client address: how many got 201, the
    server's fds and threads over start at their peak and `wait` s later, names still listed."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(binary)))
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugins"),
               GST_REGISTRY=f"/tmp/server-attacks-{os.getpid()}.bin")
    saved = os.environ.copy()
    os.environ.update(env)
    srv = Server(binary)
    os.environ.clear()
    os.environ.update(saved)
    sdp = ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
           "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n"
           "a=ice-ufrag:Ab12\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 "
           + ":".join(["8B"] * 32) + "\r\na=setup:actpass\r\na=rtcp-mux\r\n"
           "a=rtpmap:96 VP8/90000\r\n")  # no candidates: nobody will connect
    fds0, thr0 = srv.fds(), threads(srv)
    created = 0
    for i in range(n):
        s = socket.socket()
        s.bind((f"127.0.1.{i // 2 + 1}", 0))
        s.settimeout(20)
        s.connect(("127.0.0.1", srv.port))
        body = sdp.encode()
        s.sendall(b"POST /whip/s%d HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (i, len(body)) + body)
        created += read_all(s).startswith(b"HTTP/1.1 201")
        s.close()
    peak = (srv.fds() - fds0, threads(srv) - thr0)
    time.sleep(wait)
    after = (srv.fds() - fds0, threads(srv) - thr0)
    srv.stop()
    os.unlink(env["GST_REGISTRY"]) if os.path.exists(env["GST_REGISTRY"]) else None
    return created, peak, after


def ws_too_big(binary, tries=20, limit=262144):
    """A websocket frame 1 MiB over the message limit, `tries` times: the close codes seen
    (0: no close frame, the connection was cut)."""
    import base64
    import struct
    srv = Server(binary)
    codes = {}
    for _ in range(tries):
        s = connect(srv.port)
        key = base64.b64encode(os.urandom(16))
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        rest = head.split(b"\r\n\r\n", 1)[1]
        payload = b" " * (limit + (1 << 20))
        frame = b"\x81\xff" + struct.pack(">Q", len(payload)) + b"\0\0\0\0" + payload
        got = [rest]
        t = threading.Thread(target=lambda: got.append(read_all(s)))
        t.start()
        try:
            s.sendall(frame)
        except OSError:
            pass
        t.join(10)
        data = b"".join(got)
        code = 0
        # Server frames: the welcome (text), then the close frame (opcode 8).
        while len(data) >= 2:
            op, ln = data[0] & 0x0F, data[1] & 0x7F
            at = 2
            if ln == 126:
                ln, at = struct.unpack(">H", data[2:4])[0], 4
            if op == 8 and ln >= 2:
                code = struct.unpack(">H", data[at:at + 2])[0]
                break
            data = data[at + ln:]
        codes[code] = codes.get(code, 0) + 1
        s.close()
    srv.stop()
    return codes


def main():
    binaries = sys.argv[1:]
    if not binaries:
        sys.exit("usage: bench/server-attacks.py SERVER_BINARY [BASELINE_BINARY]")
    print("| attack | measure | " + " | ".join(binaries) + " |")
    print("|---|---|" + "---|" * len(binaries))

    def row(attack, measure, values):
        print(f"| {attack} | {measure} | " + " | ".join(values) + " |", flush=True)

    only = os.environ.get("ATTACKS", "")

    if only and "ws" in only.split(","):
        r = [ws_too_big(b) for b in binaries]
        row("websocket frame 1 MiB over the limit, 20 times", "close codes seen (0: cut)",
            [", ".join(f"{c}: {n}" for c, n in sorted(x.items())) for x in r])
    if only and "whip" in only.split(","):
        r = [whip_offers(b) for b in binaries]
        row("20 WHIP offers that never connect", "201s",
            [str(x[0]) for x in r])
        row("", "fds / threads at peak (over start)", [f"+{x[1][0]} / +{x[1][1]}" for x in r])
        row("", "fds / threads 40 s later", [f"+{x[2][0]} / +{x[2][1]}" for x in r])
    if only:
        return
    r = [big_body(b) for b in binaries]
    row("POST 1 GiB body", "reply", [x[0] for x in r])
    row("", "RSS kept / peak growth (MiB)", [f"{x[1]:.1f} / {x[2]:.1f}" for x in r])
    row("", "body the server took (MiB)", [f"{x[3]:.0f}" for x in r])
    r = [huge_length(b) for b in binaries]
    row("Content-Length 10 GB, no body", "reply, s until closed (cap 30)",
        [f"{x[0]}, {x[1]:.1f}" for x in r])
    r = [idle(b) for b in binaries]
    row("1000 slowloris + 200 silent + 200 partial", "still open after 20 s",
        [f"{x[0][0]} + {x[0][1]} + {x[0][2]}" for x in r])
    row("", "fds at peak / after 20 s (over start)", [f"+{x[1]} / +{x[2]}" for x in r])
    row("", "RSS after 20 s (MiB over start)", [f"{x[3]:.1f}" for x in r])
    r = [fd_exhaustion(b) for b in binaries]
    row("ulimit -n 1024, 1100 connections, freed", "new client served, s, server alive",
        [f"{'yes' if x[0] else 'no'}, {x[1]:.1f}, {'yes' if x[2] else 'no'}" for x in r])
    r = [burst(b) for b in binaries]
    row("500 clients at once", "p50 / p90 s, failures",
        [f"{x[0]:.3f} / {x[1]:.3f}, {x[2]}" for x in r])


if __name__ == "__main__":
    main()
