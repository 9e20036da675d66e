#!/bin/sh
# Make sure a Chromium or Chrome is available for the browser test.
# Uses one already installed; otherwise installs Debian's chromium when running as root with
# apt-get (as in CI). When neither works it says so, and the browser test fails with the same hint.
set -eu

for name in "${CHROMIUM:-}" chromium chromium-browser google-chrome google-chrome-stable; do
    if [ -n "$name" ] && command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "No Chromium found: installing Debian's chromium package for the browser test."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
    exit 0
fi

echo "No Chromium or Chrome found, and this is not a root shell with apt-get." >&2
echo "Install one (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chrome;" >&2
echo "the browser test will fail until then." >&2
