#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
#
# - Nothing happens (exit 0) when `docker info` already works.
# - Otherwise, as root on Debian: install the `docker.io` package with apt when `dockerd` is
#   missing (a docker CLI alone is not enough), start `dockerd` in the background and wait until
#   the engine answers (at most TAKEHOME_DOCKERD_WAIT seconds, default 60).
# - Anything else: one line saying what is wrong and what to do, and a non-zero exit.
#
# Nothing else on the machine changes. The engine's log goes to TAKEHOME_DOCKERD_LOG
# (default /var/log/takehome-dockerd.log).
#
# Exit codes: 0 engine ready, 1 cannot set it up here (not root, not Debian), 2 set-up failed.
set -euo pipefail

WAIT_SECONDS="${TAKEHOME_DOCKERD_WAIT:-60}"
# dockerd lives in /usr/sbin and needs iptables from there too; some root shells lack it.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac
LOG_FILE="${TAKEHOME_DOCKERD_LOG:-/var/log/takehome-dockerd.log}"

say() { printf 'ensure_docker: %s\n' "$*" >&2; }
fail() { say "error: $1"; exit "${2:-2}"; }

engine_answers() {
    command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1
}

if engine_answers; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    fail "no Docker engine answers \`docker info\` and this is not root; start Docker yourself or rerun as root: sudo bash $0" 1
fi
if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "no Docker engine answers \`docker info\` and this is not Debian; install and start Docker Engine by hand (https://docs.docker.com/engine/install/)" 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v containerd >/dev/null 2>&1; then
    say "installing docker.io with apt (dockerd is missing)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || fail "apt-get update failed; check the apt sources in /etc/apt and the network"
    # The docker.io package must not start services through systemd/sysvinit here
    # (often there is no init system); policy-rc.d tells invoke-rc.d to skip them.
    policy_created=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
    fi
    apt_status=0
    apt-get install -y -q --no-install-recommends docker.io >/dev/null || apt_status=$?
    if [ "$policy_created" -eq 1 ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
    [ "$apt_status" -eq 0 ] || fail "apt-get install docker.io failed (exit $apt_status); run it by hand to see why"
fi

DOCKERD="$(command -v dockerd)" || fail "dockerd is still missing after installing docker.io"

# The Debian package puts the CLI at /usr/bin/docker; another docker CLI earlier on PATH works too.
if ! command -v docker >/dev/null 2>&1; then
    fail "the docker CLI is missing although dockerd is installed; apt-get install docker.io"
fi

if ! { command -v pgrep >/dev/null 2>&1 && pgrep -x dockerd >/dev/null 2>&1; }; then
    mkdir -p "$(dirname "$LOG_FILE")"
    say "starting dockerd (log: $LOG_FILE)"
    nohup "$DOCKERD" >>"$LOG_FILE" 2>&1 </dev/null &
    disown || true
else
    say "dockerd is already running; waiting for it to answer"
fi

deadline=$((SECONDS + WAIT_SECONDS))
while [ "$SECONDS" -lt "$deadline" ]; do
    if engine_answers; then
        say "Docker engine ready: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)"
        exit 0
    fi
    sleep 1
done

fail "dockerd did not answer within ${WAIT_SECONDS}s; see the last lines of $LOG_FILE"
