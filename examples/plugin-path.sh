# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the example scripts (POSIX sh). Uses the plugin built in this
# checkout unless GST_PLUGIN_PATH is set, and stops with a hint when the
# element named in $1 cannot be found.
# shellcheck shell=sh
use_rtcstream_plugin () {
  if [ -z "${GST_PLUGIN_PATH:-}" ] && [ -d "$here/../build/plugins" ]; then
    GST_PLUGIN_PATH="$here/../build/plugins"
    export GST_PLUGIN_PATH
  fi
  if ! gst-inspect-1.0 "$1" >/dev/null 2>&1; then
    echo "$1 not found: build the project (ninja -C build) or set GST_PLUGIN_PATH" >&2
    exit 1
  fi
}
