#!/usr/bin/env bash
# The project's test command: builds everything, runs the Rust tests, then the conformance
# suite (official Alibaba SDKs against the real binary) on SQLite and, when
# VODSTACK_TEST_DATABASE_URL is set, on PostgreSQL.
#
# Usage: ./scripts/test.sh [--conformance-only] [-- PYTEST_ARGS...]
#   --conformance-only   build the binary only and skip `cargo test` (quick iteration)
#   PYTEST_ARGS          passed to both pytest runs, e.g. -- -k nonce -x
#
# Environment:
#   VODSTACK_TEST_DATABASE_URL  postgres://... enables the Postgres runs (cargo + conformance)
#   VODSTACK_TEST_REDIS_URL     redis://... enables the cluster-throttle tests
#   VODSTACK_TEST_S3_URL        S3 store for the blob contract tests; when unset a throw-away
#                               SeaweedFS is started (scripts/start-seaweedfs.sh)
#   CI=true                     the database and Redis URLs are required: nothing may be skipped
#
# Works on a fresh Debian machine with the Rust toolchain and python3: system packages are
# installed when missing, the Python venv (.venv) is created on first use.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

conformance_only=0
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --conformance-only) conformance_only=1 ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (pytest arguments go after --)" ;;
    esac
    shift
done

is_ci() { case "${CI:-}" in 1|true|TRUE|True|yes) return 0 ;; *) return 1 ;; esac; }

started=$(date +%s)
report_dir="$REPO_ROOT/target/test-reports"
mkdir -p "$report_dir"
rm -f "$report_dir"/*.log "$report_dir"/*.xml

# A CI machine builds once from scratch: incremental caches would only cost disk.
if is_ci; then
    export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
    df -h "$REPO_ROOT" | sed 's/^/   disk: /' || true
fi

# ---- what this run covers
if is_ci; then
    missing=()
    [ -n "${VODSTACK_TEST_DATABASE_URL:-}" ] || missing+=(VODSTACK_TEST_DATABASE_URL)
    [ -n "${VODSTACK_TEST_REDIS_URL:-}" ] || missing+=(VODSTACK_TEST_REDIS_URL)
    if [ ${#missing[@]} -gt 0 ]; then
        printf '\nerror: CI=true but %s unset: in CI nothing may be skipped.\n' "${missing[*]}" >&2
        printf 'Set them (see .ci/run) or run without CI=true.\n\n' >&2
        exit 2
    fi
fi
[ -n "${VODSTACK_TEST_DATABASE_URL:-}" ] \
    || log "VODSTACK_TEST_DATABASE_URL is unset: Postgres tests are SKIPPED (SQLite only)"
[ -n "${VODSTACK_TEST_REDIS_URL:-}" ] \
    || log "VODSTACK_TEST_REDIS_URL is unset: cluster (Redis) tests are SKIPPED"

# ---- results bookkeeping
declare -a step_names=() step_results=() step_details=() step_secs=()
any_failed=0
total_passed=0 total_failed=0 total_skipped=0

record() {  # record NAME ok|FAIL|skip DETAIL SECONDS
    step_names+=("$1"); step_results+=("$2"); step_details+=("$3"); step_secs+=("$4")
    [ "$2" = "FAIL" ] && any_failed=1
    return 0
}

summary() {  # summary EXIT_CODE
    local rc="$1" elapsed=$(( $(date +%s) - started )) i
    printf '\n==================== vodstack test summary ====================\n'
    for i in "${!step_names[@]}"; do
        printf '  %-28s %-5s %6ss  %s\n' "${step_names[$i]}" "${step_results[$i]}" "${step_secs[$i]}" "${step_details[$i]}"
    done
    printf '  %-28s %s\n' "wall time" "$((elapsed / 60))m $((elapsed % 60))s"
    printf '  %-28s %s\n' "reports" "${report_dir#"$REPO_ROOT"/}"
    if [ "$any_failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
        printf '  RESULT: FAILED (exit %d)\n' "$rc"
    else
        printf '  RESULT: OK\n'
    fi
    printf '===============================================================\n'
    printf 'TOTAL: %d passed, %d failed, %d skipped\n' "$total_passed" "$total_failed" "$total_skipped"
}
cleanup() {  # stops what this script started
    if declare -F seaweedfs_stop >/dev/null; then seaweedfs_stop >/dev/null 2>&1 || true; fi
}
trap 'rc=$?; cleanup; summary "$rc"; exit $rc' EXIT

# run_step NAME LOGFILE CMD... : runs CMD with output teed to LOGFILE; returns its status.
run_step() {
    local name="$1" logfile="$2"; shift 2
    log "$name: $*"
    local t0 rc=0
    t0=$(date +%s)
    "$@" 2>&1 | tee "$logfile" || rc=${PIPESTATUS[0]}
    last_secs=$(( $(date +%s) - t0 ))
    return "$rc"
}

# ---- 1. system packages (only what is missing)
if [ -n "${VODSTACK_TEST_DATABASE_URL:-}" ]; then
    ensure_apt postgresql-client psql
fi
# ffmpeg/ffprobe: test media, the media probe and the transcoder.
ensure_apt ffmpeg ffprobe
# varnishd: the external cache the CDN purge-hook tests purge (vod-cdn).
ensure_apt_check varnish sh -c 'command -v varnishd || test -x /usr/sbin/varnishd'

# ---- 2. python venv
t0=$(date +%s)
if "$REPO_ROOT/scripts/setup-venv.sh"; then
    record "python venv" ok "" $(( $(date +%s) - t0 ))
else
    record "python venv" FAIL "scripts/setup-venv.sh failed" $(( $(date +%s) - t0 ))
    exit 1
fi
PY="$REPO_ROOT/.venv/bin/python"

# ---- 3. build
if [ "$conformance_only" -eq 1 ]; then
    build_cmd=(cargo build -p vod-server)
else
    build_cmd=(cargo build --workspace --all-targets)
fi
if run_step "cargo build" "$report_dir/cargo-build.log" "${build_cmd[@]}"; then
    record "cargo build" ok "${build_cmd[*]}" "$last_secs"
else
    record "cargo build" FAIL "see target/test-reports/cargo-build.log" "$last_secs"
    exit 1
fi

# ---- 4. S3 for the blob contract suite: a throw-away SeaweedFS unless VODSTACK_TEST_S3_URL is set
if [ "$conformance_only" -eq 0 ] && [ -z "${VODSTACK_TEST_S3_URL:-}" ] \
    && [ -f "$REPO_ROOT/scripts/start-seaweedfs.sh" ]; then
    ensure_apt curl
    # shellcheck source=start-seaweedfs.sh
    source "$REPO_ROOT/scripts/start-seaweedfs.sh"
    t0=$(date +%s)
    if seaweedfs_start; then
        record "s3 (seaweedfs)" ok "VODSTACK_TEST_S3_URL set for cargo test" $(( $(date +%s) - t0 ))
    elif is_ci; then
        record "s3 (seaweedfs)" FAIL "could not start SeaweedFS (CI: S3 tests may not be skipped)" $(( $(date +%s) - t0 ))
    else
        record "s3 (seaweedfs)" skip "could not start SeaweedFS: S3 contract tests are SKIPPED" $(( $(date +%s) - t0 ))
    fi
fi

# ---- 5. cargo test
cargo_counts() {  # sums the "test result:" lines of a cargo test log -> "P F I"
    awk '/^test result:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i+1) ~ /^passed/) p += $i
                if ($(i+1) ~ /^failed/) f += $i
                if ($(i+1) ~ /^ignored/) s += $i
            }
        } END { printf "%d %d %d\n", p, f, s }' "$1"
}
if [ "$conformance_only" -eq 1 ]; then
    record "cargo test" skip "--conformance-only" 0
else
    if run_step "cargo test" "$report_dir/cargo-test.log" cargo test --workspace --no-fail-fast; then
        status=ok
    else
        status=FAIL
    fi
    p=0 f=0 s=0
    read -r p f s < <(cargo_counts "$report_dir/cargo-test.log") || true
    total_passed=$((total_passed + p)); total_failed=$((total_failed + f)); total_skipped=$((total_skipped + s))
    pg_note=""
    [ -n "${VODSTACK_TEST_DATABASE_URL:-}" ] || pg_note=" (Postgres cases skipped)"
    if [ "$status" = FAIL ] && [ "$f" -eq 0 ]; then
        record "cargo test" FAIL "exited non-zero (compile error or crash?) $p passed$pg_note" "$last_secs"
    else
        record "cargo test" "$status" "$p passed, $f failed, $s ignored$pg_note" "$last_secs"
    fi
fi

# ---- 6. conformance suite
junit_counts() {  # junit xml -> "P F S"
    "$PY" - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0 0"); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for su in suites:
    t += int(su.get("tests", 0)); f += int(su.get("failures", 0))
    e += int(su.get("errors", 0)); s += int(su.get("skipped", 0))
print(t - f - e - s, f + e, s)
EOF
}

conformance() {  # conformance sqlite|postgres
    local mode="$1" xml="$report_dir/conformance-$1.xml" rc=0
    rm -f "$xml"
    VODSTACK_CONFORMANCE_DB="$mode" VODSTACK_BIN="$REPO_ROOT/target/debug/vodstack" \
        run_step "conformance ($mode)" "$report_dir/conformance-$mode.log" \
        "$PY" -m pytest "$REPO_ROOT/conformance" -p no:cacheprovider -q -rfEs \
        --junitxml="$xml" -o junit_family=xunit1 ${pytest_args[@]+"${pytest_args[@]}"} || rc=$?
    local p=0 f=0 s=0
    read -r p f s < <(junit_counts "$xml") || true
    total_passed=$((total_passed + p)); total_failed=$((total_failed + f)); total_skipped=$((total_skipped + s))
    if [ "$rc" -eq 0 ]; then
        record "conformance ($mode)" ok "$p passed, $f failed, $s skipped" "$last_secs"
    elif [ "$rc" -eq 5 ]; then
        record "conformance ($mode)" FAIL "no test was collected" "$last_secs"
    else
        record "conformance ($mode)" FAIL "$p passed, $f failed/errors, $s skipped (pytest exit $rc)" "$last_secs"
    fi
}

conformance sqlite
if [ -n "${VODSTACK_TEST_DATABASE_URL:-}" ]; then
    conformance postgres
else
    record "conformance (postgres)" skip "VODSTACK_TEST_DATABASE_URL unset" 0
fi

[ "$any_failed" -eq 0 ]
