#!/usr/bin/env bash
# The API tests drive cnmd with real docker clients: the newer one the machine has on its PATH,
# and Debian's docker.io 20.10 client, the one scripts/docker-engine.sh extracts with dockerd
# (downloaded, never installed). Idempotent; prints the 20.10 client's path.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "$(scripts/docker-engine.sh)/usr/bin/docker"
