#!/usr/bin/env bash
# dashboard-credentials.sh ROUTER_BINARY: the credentials `make up` protects the router's
# dashboard with (basic authentication on https://dashboard.localhost/dashboard/).
#
# .dashboard/password: a random password for the user `admin`, made once (mode 600; delete it
# for a new one). .dashboard/users: its bcrypt line (`router htpasswd`), written each time and
# mounted read-only into the router as the middleware's usersFile.
set -euo pipefail
router=${1:?usage: dashboard-credentials.sh ROUTER_BINARY}
dir=.dashboard
mkdir -p "$dir"
chmod 700 "$dir"
if [ ! -s "$dir/password" ]; then
  umask 077
  head -c 24 /dev/urandom | base64 | tr -d '+/=\n' >"$dir/password"
fi
umask 022
"$router" htpasswd admin <"$dir/password" >"$dir/users.tmp"
chmod 644 "$dir/users.tmp"
mv "$dir/users.tmp" "$dir/users"
# The router runs as nobody: it reads the users file through the directory.
chmod 711 "$dir"
