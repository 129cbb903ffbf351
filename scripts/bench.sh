#!/usr/bin/env bash
# Builds vodstack and the benchmark command in release mode, then runs a benchmark case
# (default: all). Run by hand, never in CI: it loads this machine's CPUs for a while.
#   scripts/bench.sh                       # every case
#   scripts/bench.sh gateway --duration 5  # one case, shorter
#   scripts/bench.sh gateway --json        # machine-readable results on stdout
# Exit status: 0 all targets met, 1 failed run or errors, 2 a target was missed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh
# The url-pull case: nginx is its origin, ffmpeg makes the served file.
ensure_apt nginx-light nginx
ensure_apt ffmpeg ffprobe
# The edge case: wrk loads the edge and nginx.
ensure_apt wrk
cargo build --release -p vod-server -p vodstack-bench >&2
if [ "$#" -eq 0 ]; then
  set -- all
fi
exec target/release/vodstack-bench "$@"
