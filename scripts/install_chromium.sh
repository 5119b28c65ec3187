#!/usr/bin/env bash
# Installs Debian's chromium when /usr/bin/chromium is missing, for the studio's Playwright browser tests
# (Playwright's own browser download is not reachable here). Idempotent; safe to call on every CI run.
# .ci/run: scripts/install_chromium.sh && export SYNTH_REQUIRE_BROWSER=1
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium))"
    exit 0
fi

bash "$(dirname "$0")/apt_install.sh" chromium
echo "chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
