#!/usr/bin/env bash
# Debian packages the test suite uses beyond the REST catalog build (which installs its own).
# Idempotent: installs only what is missing; a no-op when everything is there.
#   docker-compose: validates docker-compose.yml ('docker compose config' needs no engine), only
#                   where a docker client is present and has no compose plugin.
set -euo pipefail

missing=()
if command -v docker >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1 \
    && ! command -v docker-compose >/dev/null 2>&1; then
  missing+=(docker-compose)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
