#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs every Debian 12 package rtcstream needs to build, run and test.
# Runs apt-get as root (through sudo when not root). Safe to run again.
set -euo pipefail

PACKAGES=(
  # build
  meson ninja-build pkg-config g++
  libglib2.0-dev libsoup-3.0-dev nlohmann-json3-dev libgtest-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  libnice-dev
  # build: GObject-Introspection data of the library (Rtcstream-1.0), and the typelibs it
  # includes; test: the Python example (examples/python) runs Debian's PyGObject
  gobject-introspection libgirepository1.0-dev gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  gir1.2-gst-plugins-bad-1.0 python3-gi
  # build: the screen-sharing example (examples/screen-share.cpp) injects X input with XTest;
  # test: xdotool reads where the X pointer is (tests/browser/screen-share.test.mjs)
  libx11-dev libxtst-dev xdotool
  # run: webrtcbin, ICE, DTLS/SRTP, codecs, tools
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-nice
  glib-networking openssl gstreamer1.0-x gstreamer1.0-plugins-base-apps
  # test: the browser test (tests/browser) runs Node with playwright-core (npm) and Chromium
  chromium
  # test: the documented lines (tests/doc) that end in autovideosink show video on an X display
  xvfb
  # test: peers written by others (issue 4): an SFU, a TURN relay, a Python WebRTC stack.
  # Their services are never enabled; tests start them with their own 127.0.0.1-only configs.
  janus coturn python3-aiortc
  # test: the network simulator (tests/netsim, docs/testing.md): ip and tc (iproute2) shape
  # links between network namespaces, nft drops packets at random
  iproute2 nftables
  # test: the stacks of a gst-launch process that does not exit (tests/integration/harness.h)
  gdb
  # test: the libFuzzer targets of tests/fuzz (clang's libFuzzer runtime is only recommended
  # by clang, and recommends are not installed here)
  clang libclang-rt-14-dev
  # test: the server under a low `ulimit -n` (prlimit) and its listen backlog (ss from
  # iproute2): tests/server/test_server_limits.cpp
  util-linux
)
# Debian's npm (which brings nodejs) unless a Node.js with npm is installed already: Debian's
# npm conflicts with the nodejs packages of other sources.
command -v npm >/dev/null || PACKAGES+=(npm)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
