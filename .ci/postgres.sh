#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite.
#
# Sourced (by .ci/run): installs Debian's postgresql package if no server binaries are present,
# creates a cluster in a temp dir, starts it on 127.0.0.1:$ATELIER_PG_PORT (default 55432) with
# its unix socket in the temp dir, creates the role "atelier" (random password) and the
# database "atelier_test", exports ATELIER_TEST_POSTGRES_URL, and stops the server on exit.
#
# Run directly (a developer): does the same, then runs the given command with the URL set,
# e.g. `.ci/postgres.sh python -m pytest -q tests/storage`; with no command it starts a shell.
# Runs as root (the server itself runs as the postgres user) or as an ordinary user who can
# run initdb/pg_ctl themselves.
set -euo pipefail

_pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

_pg_as() {
    # Run a command as the server's user: postgres when we are root, else ourselves.
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

atelier_pg_start() {
    local bindir port dir password deadline
    if ! bindir=$(_pg_bindir); then
        echo "postgres.sh: installing Debian's postgresql package" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
        bindir=$(_pg_bindir)
    fi
    port=${ATELIER_PG_PORT:-55432}
    dir=$(mktemp -d /tmp/atelier-pg.XXXXXX)
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
    fi
    ATELIER_PG_DIR=$dir
    ATELIER_PG_BINDIR=$bindir
    export ATELIER_PG_DIR ATELIER_PG_BINDIR
    trap atelier_pg_stop EXIT
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

    _pg_as "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log"
    # Many connections: the tests open pools side by side; fsync off: a throwaway cluster.
    _pg_as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"

    deadline=$((SECONDS + 30))
    # pg_ctl -w already waited; pg_isready confirms TCP answers (each try waits up to 1 s).
    until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "postgres.sh: the server did not become ready in 30 s" >&2
            cat "$dir/server.log" >&2
            return 1
        fi
    done

    _pg_as "$bindir/psql" -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE atelier LOGIN CREATEDB PASSWORD '$password'" \
        -c "CREATE DATABASE atelier_test OWNER atelier"
    # Password authentication from here on (the URL's password is checked).
    sed -i 's/^\(host.*\)trust$/\1scram-sha-256/' "$dir/data/pg_hba.conf"
    _pg_as "$bindir/pg_ctl" -D "$dir/data" -s reload

    ATELIER_TEST_POSTGRES_URL="postgresql://atelier:$password@127.0.0.1:$port/atelier_test"
    export ATELIER_TEST_POSTGRES_URL
    echo "postgres.sh: PostgreSQL ($("$bindir/postgres" --version)) ready on 127.0.0.1:$port" >&2
}

atelier_pg_stop() {
    if [ -n "${ATELIER_PG_DIR:-}" ] && [ -d "$ATELIER_PG_DIR/data" ]; then
        _pg_as "$ATELIER_PG_BINDIR/pg_ctl" -D "$ATELIER_PG_DIR/data" -s -m fast stop || true
        rm -rf "$ATELIER_PG_DIR"
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    atelier_pg_start
    if [ "$#" -gt 0 ]; then
        "$@"
    else
        echo "postgres.sh: ATELIER_TEST_POSTGRES_URL is set in this shell; exit to stop the server" >&2
        "${SHELL:-bash}" -i
    fi
fi
