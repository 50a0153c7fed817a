#!/usr/bin/env bash
# Installs what the project needs, idempotently: Debian packages when missing (MariaDB for the lab's
# databases, Graphviz for the diagrams), then a virtual environment in .venv with the project in it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server mariadb-client)
command -v mariadb-dump >/dev/null 2>&1 || need_apt+=(mariadb-client)
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
command -v ss >/dev/null 2>&1 || need_apt+=(iproute2)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)   # tests open the HTML audit record in it
# PostgreSQL 15 for the lab's PostgreSQL servers (never the machine's own), and the extensions whose
# blue/green rules the preflight is tested against on a real server.
pg=/usr/lib/postgresql/15
[ -x $pg/bin/postgres ] && [ -x $pg/bin/pg_basebackup ] && [ -x $pg/bin/pg_dump ] || need_apt+=(postgresql postgresql-15)
pgext=/usr/share/postgresql/15/extension
[ -f $pgext/pg_cron.control ] || need_apt+=(postgresql-15-cron)
[ -f $pgext/pg_partman.control ] || need_apt+=(postgresql-15-partman)
[ -f $pgext/pglogical.control ] || need_apt+=(postgresql-15-pglogical)
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing Debian packages: ${need_apt[*]}" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
  else
    echo "please install: ${need_apt[*]} (MariaDB server and client, PostgreSQL 15 and its extensions, Graphviz)" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q -e '.[test]' >&2
  rm -f .venv/.installed-*
  touch "$stamp"
fi
