#!/usr/bin/env bash
# Make Debian's chromium available for the browser tests (tests/ui). Never downloads a browser
# from anywhere else (no `playwright install`). Always exits 0: without chromium the ui tests skip.
set -uo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "ensure_chromium: $CHROMIUM is present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "ensure_chromium: $CHROMIUM is missing and we are not root; skipping install (the ui tests will skip)." >&2
    echo "ensure_chromium: install it with: sudo apt-get install -y chromium" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and apt-get is not available; the ui tests will skip." >&2
    exit 0
fi

echo "ensure_chromium: installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -q && apt-get install -y -q --no-install-recommends chromium; then
    echo "ensure_chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    echo "ensure_chromium: apt-get could not install chromium; the ui tests will skip." >&2
fi
exit 0
