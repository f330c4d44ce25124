#!/usr/bin/env bash
# Install a software WebGPU stack for machines without a GPU (CI, dev boxes).
#
# Dawn (the `webgpu` npm package) talks to Vulkan; with no GPU we give it
# Mesa's lavapipe, a Vulkan driver that runs on the CPU. The lavapipe in
# Debian bookworm (Mesa 22) is too old for Dawn, so we take
# `mesa-vulkan-drivers` from bookworm-backports (Mesa 25), plus the Vulkan
# loader `libvulkan1` that Dawn dlopen()s as libvulkan.so.1.
#
# Idempotent and quiet: when a new-enough lavapipe and the loader are already
# installed it does no apt work at all and returns in well under a second.
# apt output goes to a log file that is printed only if something fails.
set -euo pipefail

MIN_MESA=24          # first Mesa major whose lavapipe Dawn accepts reliably
BACKPORTS_LIST=/etc/apt/sources.list.d/bookworm-backports.sources
LOG=$(mktemp -t install-webgpu.XXXXXX.log)
trap 'rm -f "$LOG"' EXIT

# Run as root directly, or through sudo when there is one.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-webgpu: must run as root (no sudo found)" >&2; exit 1
  fi
fi

# Installed version of a package, empty when it is not installed.
installed_version() {
  dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null \
    | sed -n 's/^ii *//p'
}

# The lavapipe ICD manifest(s) the Vulkan loader will pick up.
list_icds() {
  ls -1 /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true
}

mesa_ok() {
  local v; v=$(installed_version mesa-vulkan-drivers)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge "$MIN_MESA" \
    && [ -n "$(installed_version libvulkan1)" ] \
    && list_icds | grep -q lvp_icd
}

# Run a command with its output captured; on failure show the log and stop.
quiet() {
  if ! "$@" >>"$LOG" 2>&1; then
    echo "install-webgpu: failed: $*" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
}

if mesa_ok; then
  echo "install-webgpu: already installed:" \
    "mesa-vulkan-drivers $(installed_version mesa-vulkan-drivers)," \
    "libvulkan1 $(installed_version libvulkan1)"
else
  # shellcheck disable=SC1091
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" != "bookworm" ]; then
    echo "install-webgpu: note: written for Debian bookworm, this is" \
      "${PRETTY_NAME:-unknown}; trying anyway" >&2
  fi

  # Add bookworm-backports unless an active apt source already names it. Only
  # files apt reads count (*.list, *.sources; not *.disabled or comments).
  if ! grep -Eqs '^[^#]*bookworm-backports' /etc/apt/sources.list \
      /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
    echo "install-webgpu: adding bookworm-backports apt source ($BACKPORTS_LIST)"
    $SUDO tee "$BACKPORTS_LIST" >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi

  export DEBIAN_FRONTEND=noninteractive
  quiet $SUDO apt-get update -q
  # -t prefers backports for what it has (Mesa and the libdrm/libgl it needs);
  # libvulkan1 is not in backports, so it comes from bookworm.
  # --no-install-recommends keeps X11/Wayland extras out.
  quiet $SUDO apt-get install -y -q --no-install-recommends \
    -t bookworm-backports mesa-vulkan-drivers libvulkan1

  if ! mesa_ok; then
    echo "install-webgpu: install finished but lavapipe is not usable" \
      "(mesa-vulkan-drivers '$(installed_version mesa-vulkan-drivers)')" >&2
    exit 1
  fi
  echo "install-webgpu: installed:" \
    "mesa-vulkan-drivers $(installed_version mesa-vulkan-drivers)," \
    "libvulkan1 $(installed_version libvulkan1)"
fi

echo "install-webgpu: Vulkan ICD files:"
list_icds | sed 's/^/  /'
