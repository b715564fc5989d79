#!/usr/bin/env bash
# Make sure Debian's redis-server is installed (the broker of the worker tests and of
# bench/scaling_bench.py; the tests start their own server on a free loopback port, never the
# system service). A no-op when redis-server is on PATH, or when this is not root on Debian (the
# worker tests are then skipped; this script says so and exits 0 so `make test` still runs the rest).
set -euo pipefail

say() { printf 'ensure_redis: %s\n' "$*" >&2; }

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    say "redis-server is missing and this is not root on Debian; worker tests will be skipped (install redis-server to run them)"
    exit 0
fi

say "installing redis-server with apt"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -q >/dev/null; then
    say "error: apt-get update failed; check the apt sources in /etc/apt and the network"
    exit 2
fi
# policy-rc.d 101: do not start the packaged system service (tests run their own servers).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && created_policy=1
fi
status=0
apt-get install -y -q --no-install-recommends redis-server >/dev/null || status=$?
[ "$created_policy" -eq 1 ] && rm -f "$policy"
if [ "$status" -ne 0 ]; then
    say "error: apt-get install redis-server failed; run it by hand to see why"
    exit 2
fi
command -v redis-server >/dev/null 2>&1 || { say "error: redis-server installed but not on PATH"; exit 2; }
