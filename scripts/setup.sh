#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine (or refreshes a prepared one) for ClassSight:
# a Python 3.11 virtual environment with the project installed, and a running MariaDB.
# Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
EXTRAS=${CLASSSIGHT_EXTRAS:-edge,cloud,api,dev}

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  if [ -z "${_APT_UPDATED:-}" ]; then as_root apt-get update -qq; _APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- Python ------------------------------------------------------------------------------
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "installing $PYTHON"
  apt_install python3.11 python3.11-venv python3-pip
fi
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-$EXTRAS"
if [ ! -f "$stamp" ]; then
  log "installing classsight[$EXTRAS] into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip wheel
  "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

# --- Chromium, for the portal's browser tests (scripts/test.sh asks for it) ------------------
if [ -n "${CLASSSIGHT_WITH_BROWSER:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  log "installing Chromium (browser tests)"
  apt_install chromium fonts-dejavu-core
fi

# --- MariaDB (MySQL protocol, stands in for RDS MySQL) ---------------------------------------
mariadb_up() { mariadb-admin --protocol=tcp -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1; }
if ! mariadb_up; then
  if ! command -v mariadbd >/dev/null 2>&1; then
    log "installing MariaDB"
    apt_install mariadb-server mariadb-client
  fi
  log "starting MariaDB on 127.0.0.1:3306"
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  if [ ! -d /var/lib/mysql/mysql ]; then
    as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- \
    --user=mysql --bind-address=127.0.0.1 --port=3306
  for _ in $(seq 1 60); do mariadb_up && break; sleep 0.5; done
  mariadb_up || { echo "MariaDB did not start" >&2; exit 1; }
  # A fresh Debian install lets root in through the socket only; tests connect over TCP.
  as_root mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;" 2>/dev/null || true
fi
log "MariaDB is up"

# --- Door anti-spoofing models: the MiniFASNet weights in ../shared/models as ONNX ---------------
# (var/models/antispoof; converted once, again only when the weights change)
if [ -d ../shared/models/antispoof ]; then
  "$VENV/bin/python" -m infra.models.convert_antispoof >/dev/null
  log "anti-spoofing models ready in var/models/antispoof"
fi
