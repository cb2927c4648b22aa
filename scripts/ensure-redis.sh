#!/usr/bin/env bash
# The Redis tests run a real redis-server on a loopback port (they start it themselves).
# Install the binary if it is missing and we may (root, Debian/Ubuntu); otherwise say how.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing redis-server (apt-get)..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  exit 0
fi
echo "redis-server is not installed: the Redis tests will be skipped." >&2
echo "Install it (e.g. 'sudo apt-get install redis-server') to run them." >&2
