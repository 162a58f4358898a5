#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Viewer churn against one producer (docs/performance.md#viewer-churn): a
# markdown table on stdout, progress on stderr. The full 1000 cycles take
# most of an hour on 2 cores.
#
#   bench/churn.sh                  # 1000 cycles
#   bench/churn.sh --cycles 100     # quicker
set -euo pipefail

# shellcheck source=bench/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

exec "$BUILD/bench/churn-bench" "$@"
