#!/usr/bin/env bash
# Builds and runs vodstack on its embedded defaults (SQLite and ./vodstack-data, API on
# 127.0.0.1:8080). Extra arguments go to `vodstack serve`, e.g. --api-addr 0.0.0.0:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source scripts/lib.sh
# ffmpeg/ffprobe: probing and transcoding.
ensure_apt ffmpeg ffprobe
cargo build --release -p vod-server
exec target/release/vodstack serve "$@"
