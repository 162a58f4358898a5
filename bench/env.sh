# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by the bench scripts that run programs of the build: builds with
# ninja (setting the build dir up if needed) and points GStreamer at only the
# freshly built plugin plus the system ones, in a registry of our own.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT" >&2
fi
ninja -C "$BUILD" >&2

export GST_PLUGIN_PATH=$BUILD/plugins
export GST_REGISTRY=$BUILD/bench-registry.bin
export GST_DEBUG=${GST_DEBUG:-1}
export GST_DEBUG_NO_COLOR=1
export RTCSTREAM_SIGNALLING=$BUILD/signalling/rtcstream-signalling
