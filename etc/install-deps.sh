#!/usr/bin/env bash
# Checks for every Debian package Axon builds and tests with. As root it
# installs what is missing; otherwise it prints the one apt-get line to run.
set -euo pipefail

pkgs=(
  build-essential pkg-config
  libfcgi-dev libjson-c-dev libhiredis-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
  libfcgi-bin spawn-fcgi lighttpd nginx-light redis-server
  apache2 libapache2-mod-fcgid systemd
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  chromium
  cppcheck clang-tidy clang libclang-rt-14-dev valgrind
  curl jq nodejs npm procps
)

missing=()
for p in "${pkgs[@]}"; do
  # nodejs may come from elsewhere (the image's own Node); a working node is enough.
  if [[ $p == nodejs ]] && command -v node >/dev/null 2>&1; then continue; fi
  if [[ $p == npm ]] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "axon: missing Debian packages. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "axon: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts packaged daemons on install where it can; ours are started
# per test run on private ports, so stop any that came up.
for svc in nginx lighttpd redis-server apache2; do
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
