#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# File transfer over a data stream (docs/performance.md#file-transfer):
#   gst-launch-1.0 filesrc ! rtcstreamsink uri=rtcstream://.../file
#   gst-launch-1.0 rtcstreamsrc uri=rtcstream://.../file ! filesink
# against a plain TCP copy of the same file on the same machine (python3
# sockets over 127.0.0.1, one process sending, one receiving into a file),
# runs interleaved. Each copy is checked (sha256). A markdown table on
# stdout, progress on stderr.
#
#   bench/data-copy.sh                 # 200 MiB, 3 runs each
#   SIZE_MB=50 RUNS=5 bench/data-copy.sh
#
# rtcstream's time is the viewer line's, from its start to its exit, so it
# includes starting gst-launch-1.0, signalling, ICE, DTLS and SCTP setup; a
# 1-byte copy measured the same way gives that fixed cost, and the net
# throughput is the size over (time - fixed cost). The TCP copy's time
# includes starting python3 likewise.
set -euo pipefail

# shellcheck source=bench/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

SIZE_MB=${SIZE_MB:-200}
RUNS=${RUNS:-3}
PORT=${PORT:-18543}
TCP_PORT=${TCP_PORT:-18544}
WORK=$(mktemp -d /tmp/rtcstream-data-bench-XXXXXX)
SERVER_PID=
cleanup () {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$WORK/big.bin"
head -c 1 /dev/urandom > "$WORK/one.bin"
WANT=$(sha256sum < "$WORK/big.bin" | cut -d' ' -f1)

"$RTCSTREAM_SIGNALLING" --port "$PORT" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
sleep 1

now () { date +%s.%N; }

# rtcstream_copy FILE NAME: prints the viewer's seconds.
rtcstream_copy () {
  local file=$1 name=$2
  rm -f "$WORK/copy.bin"
  gst-launch-1.0 -q filesrc location="$file" ! \
    rtcstreamsink uri="rtcstream://127.0.0.1:$PORT/$name" > "$WORK/producer.log" 2>&1 &
  local producer=$!
  local start; start=$(now)
  gst-launch-1.0 -q rtcstreamsrc uri="rtcstream://127.0.0.1:$PORT/$name" ! \
    filesink location="$WORK/copy.bin" > "$WORK/viewer.log" 2>&1
  local end; end=$(now)
  wait "$producer"
  echo "$end - $start" | bc -l
}

tcp_copy () {
  rm -f "$WORK/copy.bin"
  local start; start=$(now)
  /usr/bin/python3 - "$TCP_PORT" "$WORK/copy.bin" <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
c, _ = s.accept()
with open(sys.argv[2], "wb") as f:
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        f.write(b)
EOF
  local receiver=$!
  /usr/bin/python3 - "$TCP_PORT" "$WORK/big.bin" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        break
    except ConnectionRefusedError:
        time.sleep(0.01)
with open(sys.argv[2], "rb") as f:
    s.sendfile(f)
s.close()
EOF
  wait "$receiver"
  local end; end=$(now)
  echo "$end - $start" | bc -l
}

check () {
  local got; got=$(sha256sum < "$WORK/copy.bin" | cut -d' ' -f1)
  if [ "$got" != "$WANT" ]; then
    echo "copy differs from the original ($1)" >&2
    exit 1
  fi
}

declare -a RTC TCP SETUP
for run in $(seq "$RUNS"); do
  echo "run $run/$RUNS" >&2
  SETUP+=("$(rtcstream_copy "$WORK/one.bin" "one$run")")
  RTC+=("$(rtcstream_copy "$WORK/big.bin" "file$run")")
  check rtcstream
  TCP+=("$(tcp_copy)")
  check tcp
done

median () { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
SETUP_S=$(median "${SETUP[@]}")
RTC_S=$(median "${RTC[@]}")
TCP_S=$(median "${TCP[@]}")
rate () { echo "$SIZE_MB / $1" | bc -l; }
RTC_RATE=$(rate "$RTC_S")
RTC_NET=$(rate "($RTC_S - $SETUP_S)")
TCP_RATE=$(rate "$TCP_S")

echo "#### File transfer, $SIZE_MB MiB, median of $RUNS interleaved runs (sha256 checked)"
echo
echo "| copy | seconds | MiB/s | vs TCP |"
echo "|---|---|---|---|"
printf '| TCP (python3 sockets, 127.0.0.1) | %.2f | %.0f | 1 |\n' "$TCP_S" "$TCP_RATE"
printf '| rtcstream data stream, end to end | %.2f | %.0f | %.3f |\n' "$RTC_S" "$RTC_RATE" \
  "$(echo "$RTC_RATE / $TCP_RATE" | bc -l)"
printf '| rtcstream, setup (1-byte copy) subtracted | %.2f | %.0f | %.3f |\n' \
  "$(echo "$RTC_S - $SETUP_S" | bc -l)" "$RTC_NET" "$(echo "$RTC_NET / $TCP_RATE" | bc -l)"
printf '\nrtcstream setup (a 1-byte copy): %.2f s; runs: rtcstream %s; tcp %s\n' "$SETUP_S" \
  "${RTC[*]}" "${TCP[*]}"
