#!/usr/bin/env bash
# Make sure Debian's chromium is installed at /usr/bin/chromium (used by the browser tests of the
# HTML report). A no-op when it is already there, or when this is not root on Debian (the browser
# tests are then skipped; this script says so and exits 0 so `make test` still runs the rest).
set -euo pipefail

say() { printf 'ensure_chromium: %s\n' "$*" >&2; }

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    say "chromium is missing and this is not root on Debian; browser tests will be skipped (install chromium to run them)"
    exit 0
fi

say "installing chromium with apt"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -q >/dev/null; then
    say "error: apt-get update failed; check the apt sources in /etc/apt and the network"
    exit 2
fi
if ! apt-get install -y -q --no-install-recommends chromium >/dev/null; then
    say "error: apt-get install chromium failed; run it by hand to see why"
    exit 2
fi
[ -x /usr/bin/chromium ] || { say "error: chromium installed but /usr/bin/chromium is missing"; exit 2; }
