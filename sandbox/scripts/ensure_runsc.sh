#!/usr/bin/env bash
# Make sure gVisor's `runsc` is installed and, with --register, known to the Docker engine.
#
#   bash sandbox/scripts/ensure_runsc.sh             install Debian's runsc package when missing
#   bash sandbox/scripts/ensure_runsc.sh --register  ... and add it to /etc/docker/daemon.json
#                                                    "runtimes", then reload dockerd's
#                                                    configuration with SIGHUP (never a restart:
#                                                    running containers are not touched)
#   bash sandbox/scripts/ensure_runsc.sh --check     exit 0 when the engine lists runsc, else 1
#
# Idempotent: nothing changes when runsc is installed (and registered). Without root or off
# Debian it prints what to do and exits 0 (install: the runsc tests are then skipped, so
# `make test` still runs the rest) or 1 (--register). Exit 2: apt or the registration failed.
# Environment: TAKEHOME_DAEMON_JSON (default /etc/docker/daemon.json),
# TAKEHOME_RUNSC_PLATFORM (systrap or ptrace; written as the runtime's --platform argument),
# TAKEHOME_DOCKERD_PID (the dockerd to reload; default: the only one running).
set -euo pipefail

DAEMON_JSON="${TAKEHOME_DAEMON_JSON:-/etc/docker/daemon.json}"
PLATFORM="${TAKEHOME_RUNSC_PLATFORM:-}"
MODE="install"
case "${1:-}" in
  --register) MODE="register" ;;
  --check) MODE="check" ;;
  "") ;;
  *) echo "usage: $0 [--register|--check]" >&2; exit 64 ;;
esac
export PATH="$PATH:/usr/sbin:/sbin"

engine_has_runsc() {
  docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'
}

if [[ "$MODE" == "check" ]]; then
  if engine_has_runsc; then echo "runsc: registered with the Docker engine"; exit 0; fi
  echo "runsc: not registered with the Docker engine (run: sudo bash $0 --register)" >&2
  exit 1
fi

RUNSC="$(command -v runsc || true)"
if [[ -z "$RUNSC" ]]; then
  if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "runsc (gVisor) is not installed and this is not root on Debian; the runsc tests will" \
         "be skipped (as root on Debian: apt-get install runsc)" >&2
    [[ "$MODE" == "register" ]] && exit 1
    exit 0
  fi
  echo "installing Debian's runsc package (gVisor)..."
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends runsc \
      >/tmp/takehome-apt-runsc.log 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>/tmp/takehome-apt-runsc.log 2>&1 || true
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends runsc \
        >>/tmp/takehome-apt-runsc.log 2>&1; then
      echo "apt-get install runsc failed; see /tmp/takehome-apt-runsc.log" >&2
      exit 2
    fi
  fi
  RUNSC="$(command -v runsc)"
fi
echo "runsc: $RUNSC ($("$RUNSC" --version 2>/dev/null | sed -n 1p))"

[[ "$MODE" == "register" ]] || exit 0
if engine_has_runsc; then
  echo "runsc: already registered with the Docker engine"
  exit 0
fi
if [[ "$(id -u)" != "0" ]]; then
  echo "registering runsc needs root (it edits $DAEMON_JSON): sudo bash $0 --register" >&2
  exit 1
fi
PYTHON="$(command -v python3 || true)"
if [[ -z "$PYTHON" ]]; then
  echo "registering runsc needs python3 (to edit $DAEMON_JSON safely)" >&2
  exit 2
fi
mkdir -p "$(dirname "$DAEMON_JSON")"
# Merge, never overwrite: other settings and runtimes in daemon.json are kept as they are.
"$PYTHON" - "$DAEMON_JSON" "$RUNSC" "$PLATFORM" <<'EOF'
import json, os, sys, tempfile
path, runsc, platform = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    with open(path, encoding="utf-8") as handle:
        config = json.load(handle)
except FileNotFoundError:
    config = {}
if not isinstance(config, dict):
    sys.exit(f"{path} is not a JSON object; not touching it")
# --network=none: sandbox containers have no network, and gVisor's own network stack cannot
# start in the host's network namespace anyway
runtime = {"path": runsc, "runtimeArgs": ["--network=none"]}
if platform:
    runtime["runtimeArgs"].append(f"--platform={platform}")
config.setdefault("runtimes", {})["runsc"] = runtime
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".daemon.json.")
with os.fdopen(fd, "w", encoding="utf-8") as handle:
    json.dump(config, handle, indent=2, sort_keys=True)
    handle.write("\n")
os.chmod(tmp, 0o644)
os.replace(tmp, path)
EOF
PID="${TAKEHOME_DOCKERD_PID:-$(pidof dockerd || true)}"
if [[ -z "$PID" ]]; then
  echo "runsc written to $DAEMON_JSON; dockerd is not running here: it applies at its next start"
  exit 0
fi
if [[ "$PID" == *" "* ]]; then
  echo "runsc written to $DAEMON_JSON; several dockerd processes run here ($PID): set" \
       "TAKEHOME_DOCKERD_PID to the one that reads it and run this again" >&2
  exit 2
fi
# dockerd reloads "runtimes" from daemon.json on SIGHUP; a restart is never needed.
kill -HUP $PID
for _ in $(seq 1 20); do
  if engine_has_runsc; then echo "runsc: registered with the Docker engine"; exit 0; fi
  sleep 0.5
done
echo "dockerd did not pick up runsc after SIGHUP (was it started with --config-file elsewhere," \
     "or with --add-runtime?); see its log" >&2
exit 2
