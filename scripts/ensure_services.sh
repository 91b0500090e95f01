#!/usr/bin/env bash
# Make Debian's redis-server and PostgreSQL available for the system tests (tests/system). Installs
# only the binaries: the tests start their own instances on 127.0.0.1 and stop them at the end.
# Always exits 0: without them the system tests skip, naming what is missing.
set -uo pipefail

have_redis() { command -v redis-server >/dev/null 2>&1; }
have_postgres() { command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }

missing=()
have_redis || missing+=(redis-server)
have_postgres || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
    echo "ensure_services: redis-server and PostgreSQL are present"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "ensure_services: missing ${missing[*]} and we are not root; the system tests will skip." >&2
    echo "ensure_services: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_services: missing ${missing[*]} and apt-get is not available; the system tests will skip." >&2
    exit 0
fi

echo "ensure_services: installing Debian's ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d keeps the packages from starting system-wide services: the tests run their own.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
if apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    echo "ensure_services: installed ${missing[*]}"
else
    echo "ensure_services: apt-get could not install ${missing[*]}; the system tests will skip." >&2
fi
[ "$created_policy" = 1 ] && rm -f "$policy"
exit 0
