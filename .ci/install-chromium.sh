#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (test/browser/): playwright-core drives
# /usr/bin/chromium, so no browser is downloaded by a test tool.
#
# Idempotent and quiet: when chromium is already installed it does no apt work at all. apt output
# goes to a log file that is printed only if something fails.
set -euo pipefail

LOG=$(mktemp -t install-chromium.XXXXXX.log)
trap 'rm -f "$LOG"' EXIT

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-chromium: must run as root (no sudo found)" >&2; exit 1
  fi
fi

quiet() {
  if ! "$@" >>"$LOG" 2>&1; then
    echo "install-chromium: failed: $*" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
}

if [ -x /usr/bin/chromium ]; then
  echo "install-chromium: already installed: $(/usr/bin/chromium --version 2>/dev/null)"
else
  export DEBIAN_FRONTEND=noninteractive
  quiet $SUDO apt-get update -q
  quiet $SUDO apt-get install -y -q chromium
  if [ ! -x /usr/bin/chromium ]; then
    echo "install-chromium: install finished but /usr/bin/chromium is missing" >&2
    exit 1
  fi
  echo "install-chromium: installed: $(/usr/bin/chromium --version 2>/dev/null)"
fi
