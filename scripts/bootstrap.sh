#!/usr/bin/env bash
# One-time (and idempotent) set-up on Debian/Ubuntu: system packages, the venv, Python and
# ROS 2 Jazzy wheels, and our rosidl interface package. Called by `make demo` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
APT_PACKAGES=(redis-server redis-sentinel chromium libsdformat-dev pkg-config g++ cmake postgresql
  iproute2)

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
# The Sentinel tests (tests/test_redis_ha.py) start three sentinels.
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
command -v chromium >/dev/null || missing+=(chromium)
pkg-config --exists sdformat12 2>/dev/null || missing+=(libsdformat-dev pkg-config)
command -v g++ >/dev/null || missing+=(g++)
command -v cmake >/dev/null || missing+=(cmake)
# The archive's PostgreSQL tests start a throwaway cluster with its initdb / pg_ctl.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
# The partition test (tests/test_partition.py) puts the robots in a network namespace.
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    say "missing ${missing[*]} and no apt-get here: install them with your package manager"
    exit 1
  fi
  SUDO=''
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { say "need root or sudo to install: ${missing[*]}"; exit 1; }
    SUDO=sudo
  fi
  say "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' 2>/dev/null || {
  say "robodine needs Python >= 3.11 ($PY is $("$PY" --version 2>&1))"; exit 1; }
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip -q --disable-pip-version-check)

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
deps_stamp=$(stamp_of pyproject.toml requirements-ros.txt)
if [ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" != "$deps_stamp" ]; then
  say 'installing Python and ROS 2 Jazzy packages'
  "${PIP[@]}" install -U pip >/dev/null
  "${PIP[@]}" install -r requirements-ros.txt -e '.[dev]'
  echo "$deps_stamp" > "$VENV/.deps-stamp"
fi

# A rosidl package built as a wheel (its pyproject.toml) unless its sources and the shared
# CMake helpers are unchanged since the last build.
build_iface() {  # DIR NAME WHAT
  local stamp
  stamp=$(find "$1" robot_nodes/cmake -type f -not -path '*/build/*' | sort | xargs cat \
    | sha256sum | cut -c1-16)
  if [ "$(cat "$VENV/.$2-stamp" 2>/dev/null)" != "$stamp" ]; then
    say "building $3"
    "${PIP[@]}" install "./$1"
    echo "$stamp" > "$VENV/.$2-stamp"
  fi
}
build_iface robot_nodes/restaurant_interfaces iface 'restaurant_interfaces (rosidl, ~40 s)'
# Nav2's NavigateToPose for the nav2 driver: no nav2_msgs wheel exists, so we build our copy,
# unless another nav2_msgs is importable (a system ROS 2 with Nav2: that one is used).
if [ -f "$VENV/.nav2-msgs-stamp" ] || ! "$VENV/bin/python" -c 'import nav2_msgs' 2>/dev/null
then
  build_iface robot_nodes/nav2_msgs nav2-msgs 'nav2_msgs (NavigateToPose only, rosidl, 20-40 s)'
else
  say 'nav2_msgs is installed already: not building our copy'
fi
