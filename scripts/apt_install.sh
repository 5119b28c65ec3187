#!/usr/bin/env bash
# Installs Debian packages by name (sudo when not root). Shared by install_postgres.sh and install_chromium.sh.
# Usage: scripts/apt_install.sh PACKAGE...
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "$@"
