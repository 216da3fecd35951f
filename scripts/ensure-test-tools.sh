#!/usr/bin/env bash
# The system tools the test suite drives for real, installed only when missing
# (run by `python3 dev.py test` before the tests, so CI and a fresh machine alike).
set -euo pipefail
cd "$(dirname "$0")/.."

# The page's browser and HTML checks need Debian's Chromium, a Java runtime (the Nu
# HTML Checker), Node.js/npm (axe-core, vnu-jar from package-lock.json) and redis-server.
# Each is installed only when missing, so a prepared machine does no work here.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# The fleet test (tests/test_redis.py) starts its own redis-server on a free port.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The reverse-proxy tests (tests/test_proxies.py) run each server as a plain process on a
# free loopback port with their own config in a temporary folder (never the system's
# config or service, which the tests neither need nor touch).
[[ -x /usr/sbin/nginx ]] || missing+=(nginx)
[[ -x /usr/sbin/apache2 ]] || missing+=(apache2)
[[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "dev.py test needs: ${missing[*]} (Debian packages); install them as root" >&2
      exit 1
    fi
  fi
  echo "+ apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm ci only when node_modules was not installed from this very lockfile.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ "$(cat node_modules/.lock-sha256 2>/dev/null)" != "$lock_sum" ]]; then
  echo "+ npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_sum" >node_modules/.lock-sha256
fi

