# Shared helpers for the project's scripts. Source it; do not run it.
# shellcheck shell=bash

# Repository root (the parent of scripts/).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

_APT_UPDATED=0

# ensure_apt PKG [CMD]: install the Debian package PKG unless CMD (default: PKG) is already
# on PATH. Runs `apt-get update` once per script run, before the first install.
ensure_apt() {
    local pkg="$1" cmd="${2:-$1}"
    if command -v "$cmd" >/dev/null 2>&1; then
        return 0
    fi
    _apt_install "$pkg"
    command -v "$cmd" >/dev/null 2>&1 || die "installed $pkg but '$cmd' is still missing"
}

# ensure_apt_check PKG CHECK...: like ensure_apt, but the presence test is a command line.
ensure_apt_check() {
    local pkg="$1"; shift
    if "$@" >/dev/null 2>&1; then
        return 0
    fi
    _apt_install "$pkg"
    "$@" >/dev/null 2>&1 || die "installed $pkg but '$*' still fails"
}

_apt_install() {
    local pkg="$1" sudo=""
    command -v apt-get >/dev/null 2>&1 || die "$pkg is needed and apt-get is not available; install it by hand"
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "$pkg is needed; run as root or install it by hand"
        sudo="sudo"
    fi
    if [ "$_APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null
        _APT_UPDATED=1
    fi
    log "apt-get install $pkg"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
}
