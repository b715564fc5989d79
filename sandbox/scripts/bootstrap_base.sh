#!/usr/bin/env bash
# Build a minimal Debian base image locally with debootstrap, for machines that cannot pull the
# default base image (python:3.11-slim) from a registry.
#
#   bash sandbox/scripts/bootstrap_base.sh [TAG]        (default TAG: takehome-base:bookworm)
#   bash sandbox/scripts/bootstrap_base.sh --print-mirror   (print the mirror it would use)
#
# - Nothing happens when TAG already exists in the engine.
# - The Debian mirror is read at run time from the host's apt sources (deb822 `URIs:` lines in
#   /etc/apt/sources.list.d/*.sources, or `deb` lines in /etc/apt/sources.list);
#   TAKEHOME_DEBIAN_MIRROR overrides it. TAKEHOME_APT_SOURCES_DIR and TAKEHOME_APT_SOURCES_LIST
#   replace those two paths (for tests).
# - debootstrap is installed with apt when missing (root on Debian only).
# - The root filesystem is built in a temporary directory, imported with `docker import` and
#   removed, whatever happens.
#
# Exit codes: 0 image ready, 1 cannot do it here (not root, no debootstrap, no mirror), 2 failed.
set -euo pipefail

TAG="${1:-takehome-base:bookworm}"
SOURCES_DIR="${TAKEHOME_APT_SOURCES_DIR:-/etc/apt/sources.list.d}"
SOURCES_LIST="${TAKEHOME_APT_SOURCES_LIST:-/etc/apt/sources.list}"
SUITE="${TAKEHOME_DEBIAN_SUITE:-bookworm}"
# python3-venv brings ensurepip (the sandbox image creates its venv with it); make is for
# candidates' `make predict`; libgomp1 is the OpenMP runtime LightGBM links against.
INCLUDE="python3,python3-venv,ca-certificates,make,libgomp1"

say() { printf 'bootstrap_base: %s\n' "$*" >&2; }
fail() { say "error: $1"; exit "${2:-2}"; }

# --- mirror ---------------------------------------------------------------------------------

# Print the URI of the main Debian archive from the host's apt sources: the first source whose
# suites include a plain release name (not -security/-updates/-backports) and whose URI is not a
# security archive.
find_mirror() {
    local file
    shopt -s nullglob
    for file in "$SOURCES_DIR"/*.sources; do
        awk '
            function flush() {
                if (uris != "" && types ~ /(^| )deb( |$)/ && enabled != "no") {
                    n = split(suites, s, " ")
                    for (i = 1; i <= n; i++) {
                        if (s[i] !~ /-(security|updates|backports|proposed-updates)$/ && s[i] !~ /\//) {
                            split(uris, u, " ")
                            if (u[1] !~ /security/) { print u[1]; found = 1; exit }
                        }
                    }
                }
                uris = ""; suites = ""; types = ""; enabled = ""
            }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]*#/ { next }
            tolower($1) == "types:"   { $1 = ""; types = $0 }
            tolower($1) == "uris:"    { $1 = ""; uris = $0; sub(/^ +/, "", uris) }
            tolower($1) == "suites:"  { $1 = ""; suites = $0 }
            tolower($1) == "enabled:" { enabled = tolower($2) }
            END { if (!found) flush() }
        ' "$file"
    done
    shopt -u nullglob
    if [ -r "$SOURCES_LIST" ]; then
        # deb [options] URI suite components...
        sed -e 's/\[[^]]*\]//' "$SOURCES_LIST" | awk '
            $1 == "deb" && $3 !~ /-(security|updates|backports)$/ && $2 !~ /security/ { print $2 }
        '
    fi
}

mirror() {
    local found
    found="${TAKEHOME_DEBIAN_MIRROR:-$(find_mirror | sed -n 1p)}"
    found="${found%/}"
    [ -n "$found" ] || fail "no Debian mirror found in $SOURCES_LIST or $SOURCES_DIR; set TAKEHOME_DEBIAN_MIRROR to one" 1
    printf '%s\n' "$found"
}

if [ "$TAG" = "--print-mirror" ]; then
    mirror
    exit 0
fi

# --- checks ---------------------------------------------------------------------------------

if docker image inspect "$TAG" >/dev/null 2>&1; then
    say "$TAG already exists"
    exit 0
fi
timeout 20 docker info >/dev/null 2>&1 || fail "Docker engine not reachable; run \`make engine\` or \`sudo bash sandbox/scripts/ensure_docker.sh\`" 1
[ "$(id -u)" -eq 0 ] || fail "building $TAG with debootstrap needs root; rerun as root or pass an existing image with --base-image" 1
MIRROR="$(mirror)"

# --- debootstrap ----------------------------------------------------------------------------

if ! command -v debootstrap >/dev/null 2>&1; then
    if [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
        say "installing debootstrap with apt"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null || fail "apt-get update failed; check the apt sources and the network"
        apt-get install -y -q --no-install-recommends debootstrap >/dev/null \
            || fail "apt-get install debootstrap failed; run it by hand to see why"
    else
        fail "debootstrap is missing and this is not Debian; pass a base image with python3 via --base-image" 1
    fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/takehome-rootfs.XXXXXX")"
ROOTFS="$WORK/rootfs"

cleanup() {
    # debootstrap mounts /proc and /sys inside the target; unmount whatever is left there
    # (deepest first) before removing, and never cross into another filesystem.
    local mnt
    if [ -r /proc/mounts ]; then
        awk -v root="$ROOTFS" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r \
            | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
    fi
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

say "debootstrap $SUITE from $MIRROR into $ROOTFS (this takes a few minutes)"
if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTFS" "$MIRROR" \
        >"$WORK/debootstrap.log" 2>&1; then
    tail -n 20 "$WORK/debootstrap.log" >&2 || true
    fail "debootstrap failed (see the lines above); check that $MIRROR serves $SUITE"
fi

# Keep the image small and free of host-specific state.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb \
    "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* "$ROOTFS"/debootstrap
: >"$ROOTFS/etc/hostname"

say "importing as $TAG"
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "takehome: debootstrap --variant=minbase $SUITE" \
    - "$TAG" >/dev/null || fail "docker import of $TAG failed"
say "built $TAG"
