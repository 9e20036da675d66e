#!/bin/sh
# Make sure a Chromium or Chrome is available for the browser test and the PDF.
#
# The PDF is printed by a full Chromium or Chrome. The browser test prefers Debian's
# chromium-headless-shell, the same engine without the browser's own interface, which opens
# a page in about half the CPU time; without it, the test uses the full browser.
# Uses what is installed; otherwise installs the Debian packages when running as root with
# apt-get (as in CI). When no browser can be had it says so, and the browser test fails with
# the same hint.
set -eu

have() { [ -n "$1" ] && command -v "$1" >/dev/null 2>&1; }

if have "${CHROMIUM:-}"; then
    exit 0
fi
full=""
for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if have "$name"; then
        full=$name
        break
    fi
done
missing=""
have chromium-headless-shell || missing="chromium-headless-shell"
[ -n "$full" ] || missing="$missing chromium"
if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's $missing for the browser test and the PDF."
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # one package name per word
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
        exit 0
    fi
    if [ -n "$full" ]; then
        echo "Could not install $missing; the browser test uses $full." >&2
        exit 0
    fi
fi

if [ -n "$full" ]; then
    exit 0
fi
echo "No Chromium or Chrome found, and this is not a root shell with apt-get." >&2
echo "Install one (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chrome;" >&2
echo "the browser test will fail until then." >&2
