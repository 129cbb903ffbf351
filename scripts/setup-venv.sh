#!/usr/bin/env bash
# Creates <repo>/.venv with the conformance suite's pinned requirements.
# Idempotent and quiet: does nothing when the venv exists and conformance/requirements.txt
# has not changed since the last successful install (its hash is stored in the venv).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VENV="$REPO_ROOT/.venv"
REQ="$REPO_ROOT/conformance/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON is required"
[ -f "$REQ" ] || die "missing $REQ"

want="$( { sha256sum "$REQ" | cut -d' ' -f1; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1 \
    && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi

# Debian splits venv/ensurepip into python3-venv.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    ensure_apt_check python3-venv "$PYTHON" -c 'import ensurepip, venv'
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

log "installing conformance requirements into $VENV"
rm -f "$STAMP"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ"
printf '%s\n' "$want" > "$STAMP"
