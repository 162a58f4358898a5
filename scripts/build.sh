#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Configures (once) and builds rtcstream into ./build; installs the browser
# test's npm packages (tests/browser/node_modules) when missing or when
# tests/browser/package-lock.json changed, unless given --no-npm (scripts/demo.sh:
# a demo needs no test packages, nor the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  meson setup build
fi
ninja -C build
if [ "${1:-}" = --no-npm ]; then
  exit 0
fi

lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.rtcstream-lock.sha256
if command -v npm >/dev/null; then
  sum=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    npm ci --prefix tests/browser --no-audit --no-fund
    echo "$sum" > "$stamp"
  fi
else
  echo "build.sh: npm is missing (scripts/install-deps.sh installs it); the browser test will be skipped"
fi
