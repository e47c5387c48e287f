#!/usr/bin/env bash
# `make test-compose`: the platform in containers. Installs the Docker engine and docker-compose
# from Debian's packages when missing, starts dockerd when none runs (and stops only that one),
# makes every image available (tests/compose/images.sh), then runs tests/compose with pytest.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
artifacts="$root/test-artifacts/compose"
mkdir -p "$artifacts"
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo

missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing="$missing docker-compose"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
if [ -n "$missing" ]; then
  echo "compose: installing Debian packages:$missing"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

started_pid=""
stop_engine() {
  if [ -n "$started_pid" ]; then
    echo "compose: stopping the dockerd this run started (pid $started_pid)"
    $sudo kill "$started_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do $sudo kill -0 "$started_pid" 2>/dev/null || break; sleep 0.5; done
  fi
}
trap stop_engine EXIT
if ! docker info >/dev/null 2>&1; then
  echo "compose: no Docker engine answers; starting dockerd (log: $artifacts/dockerd.log)"
  $sudo dockerd >"$artifacts/dockerd.log" 2>&1 &
  started_pid=$!
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -n 30 "$artifacts/dockerd.log"; echo "compose: dockerd did not start"; exit 1; }
fi
echo "compose: $(docker version -f 'engine {{.Server.Version}}'), $(docker-compose version --short 2>/dev/null || docker compose version --short)"

override_file="$artifacts/override.txt"
"$here/images.sh" "$override_file"
export CRYPTOVIZ_COMPOSE_OVERRIDE
CRYPTOVIZ_COMPOSE_OVERRIDE="$(cat "$override_file")"
cd "$root"
"$root/.venv/bin/python" -m pytest tests/compose -p no:cacheprovider ${PYTEST_ARGS:-}
