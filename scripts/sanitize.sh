#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The suites that run our code in-process or in gst-launch children, built
# and run under AddressSanitizer and UndefinedBehaviorSanitizer (any UB
# aborts), in ./build-asan. Not part of scripts/test.sh: it builds
# everything a second time and runs the suites slower (about 20 minutes on
# 2 cores); run it before a release, after changing how memory or threads
# are handled, and when CI time allows.
#
#   scripts/sanitize.sh                     # unit, server, element, integration
#   scripts/sanitize.sh --suite element     # what meson test takes
#
# gst-launch children load the instrumented plugin, so the sanitizer
# runtimes are preloaded into every process the suites start; the browser
# and doc suites start Chromium and Node, which must not get them, and are
# left out. Leaks are checked by the focused test in the element suite
# (element-leaks) rather than at the exit of every process, where
# GStreamer's and GLib's one-time allocations show.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dfuzzing=disabled
fi
ninja -C build-asan
rm -f build-asan/tests/registry.bin
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export GST_REGISTRY_FORK=no
if [ $# -eq 0 ]; then
  set -- --suite unit --suite server --suite element --suite integration
fi
exec meson test -C build-asan --print-errorlogs --num-processes 2 "$@"
