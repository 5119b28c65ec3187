#!/usr/bin/env bash
# Installs Debian's PostgreSQL server when no server binary exists, so the relational tests can
# prove the generated data against a real database. Idempotent; safe to call on every CI run.
# .ci/run: scripts/install_postgres.sh && export SYNTH_REQUIRE_POSTGRES=1
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
    echo "postgresql: server already installed ($(ls -d /usr/lib/postgresql/*/bin | tail -1))"
    exit 0
fi

bash "$(dirname "$0")/apt_install.sh" postgresql
# The Debian package starts a cluster of its own where a service manager exists; the tests run a
# throwaway server in a temp dir instead, so the default cluster is not needed.
echo "postgresql: installed $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
