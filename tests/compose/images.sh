#!/usr/bin/env bash
# Makes sure every image docker-compose.yml needs is on this Docker engine: pulled where a registry
# answers, else built from Debian's archive as a stand-in (see standins/). Prints, loudly, which
# images the run uses. Writes the compose override to use (empty when every real image was pulled)
# to the file named by $1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
override_out="$1"
base=python:3.11.11-slim-bookworm
rootfs=cryptoviz-standin/bookworm-rootfs:1

have() { docker image inspect "$1" >/dev/null 2>&1; }
pull() { timeout 300 docker pull -q "$1" >/dev/null 2>&1; }
is_standin() { [ -n "$(docker image inspect -f '{{index .Config.Labels "org.cryptoviz.standin"}}' "$1" 2>/dev/null)" ]; }

quiet_build() {  # docker build, its output shown only when it fails
  local log
  log=$(mktemp)
  docker build "$@" >"$log" 2>&1 || { tail -n 40 "$log"; rm -f "$log"; echo "compose: image build failed: $*"; exit 1; }
  rm -f "$log"
}

mirror() {  # the Debian mirror apt already uses here
  local m
  m=$(grep -h -o -E '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
      | grep -v security | head -n 1 | awk '{print $2}')
  echo "${m:-http://deb.debian.org/debian}"
}

build_base() {
  if ! have "$rootfs"; then
    command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
    local dir
    dir=$(mktemp -d)
    echo "compose: building a Debian bookworm root file system with debootstrap (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$dir/rootfs" "$(mirror)" \
      >"$dir/debootstrap.log" 2>&1 || { tail -n 20 "$dir/debootstrap.log"; exit 1; }
    tar -C "$dir/rootfs" -c . | docker import - "$rootfs" >/dev/null
    rm -rf "$dir"
    echo "compose: root file system imported after ${SECONDS}s"
  fi
  local ctx
  ctx=$(mktemp -d)
  cp "$here/standins/python.Dockerfile" "$here/standins/dpkg-docker.cfg" "$ctx/"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
  quiet_build -f "$ctx/python.Dockerfile" -t "$base" "$ctx"
  rm -rf "$ctx"
}

if have "$base" && ! is_standin "$base"; then
  echo "compose: base image $base: the real one (local)"
elif pull "$base"; then
  echo "compose: base image $base: pulled"
else
  build_base
  echo "compose: base image $base: NO REGISTRY, using a STAND-IN built from Debian's archive (Python 3.11.2)," \
       "ready after ${SECONDS}s"
fi

# the images compose pulls (ours, cryptoviz/*, are built from the Dockerfiles)
third_party=$(grep -E '^\s+image:' "$root/docker-compose.yml" | awk '{print $2}' | grep -v '^cryptoviz/' | sort -u)
missing=""
for image in $third_party; do
  have "$image" || pull "$image" || missing="$missing $image"
done
if [ -z "$missing" ]; then
  echo "compose: third-party images: the real ones:" $third_party
  : >"$override_out"
else
  echo "compose: NO REGISTRY for:$missing"
  for stage in redpanda minio redis redpanda-console; do
    quiet_build -f "$here/standins/servers.Dockerfile" --target "$stage" -t "cryptoviz-standin/$stage:local" \
      "$here/standins"
  done
  echo "compose: using STAND-INS (tests/compose/standins.yml): Redpanda -> Tansu 0.6.0, MinIO and mc ->" \
       "SeaweedFS 4.48 + boto3, Redis -> Debian's redis-server, Redpanda Console -> a placeholder page;" \
       "ready after ${SECONDS}s"
  echo "$here/standins.yml" >"$override_out"
fi
