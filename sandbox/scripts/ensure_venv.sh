#!/usr/bin/env bash
# Make sure the host's Python can create a virtualenv (python3 -m venv needs ensurepip).
#
# Nothing happens when it can. Otherwise, as root on Debian, installs python3-venv with apt.
# Anything else: one line saying what to do, and a non-zero exit.
set -euo pipefail
PYTHON="${1:-python3}"

say() { printf 'ensure_venv: %s\n' "$*" >&2; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "error: $PYTHON not found; install Python 3.11 or newer (Debian: apt-get install python3)"
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    say "error: takehome needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)"
    exit 1
fi
if "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
    say "installing python3-venv with apt ($PYTHON cannot create virtualenvs)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends python3-venv >/dev/null
    exit 0
fi
say "error: $PYTHON cannot create virtualenvs; install the venv module (Debian: apt-get install python3-venv)"
exit 1
