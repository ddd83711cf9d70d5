#!/usr/bin/env bash
# prereqs.sh TARGET [--install|--check]: checks what `make TARGET` needs (TARGET is up or
# test) before anything is built, from the one list both make targets and .ci/run share
# (scripts/prereqs.list, or $PREREQS_LIST).
#
# What is missing is installed when run as root on Debian (apt-get for packages, pip for
# Python modules), unless --check is given or PREREQS_INSTALL=never; otherwise the script
# stops with one message naming every missing package and the command that installs it.
# --install installs or fails (.ci/run). A Docker daemon is never started here: when none
# answers, the message says how to start one. Exit 0 when everything is there, 1 otherwise,
# 64 on a usage error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
list=${PREREQS_LIST:-$here/prereqs.list}
target=${1:-}
mode=${PREREQS_INSTALL:-auto}
case "${2:-}" in
  "") ;;
  --install) mode=always ;;
  --check) mode=never ;;
  *) echo "prereqs.sh: unknown option ${2} (expected --install or --check)" >&2; exit 64 ;;
esac
case "$target" in
  up | test) ;;
  *) echo "usage: prereqs.sh up|test [--install|--check]" >&2; exit 64 ;;
esac
case "$mode" in
  auto | always | never) ;;
  *) echo "prereqs.sh: PREREQS_INSTALL=$mode: expected auto, always or never" >&2; exit 64 ;;
esac
[ -r "$list" ] || { echo "prereqs.sh: cannot read the list $list" >&2; exit 64; }

docker_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# present CHECK: whether one check passes.
present() {
  case "$1" in
    cmd:*) command -v "${1#cmd:}" >/dev/null 2>&1 ;;
    file:*) [ -x "${1#file:}" ] ;;
    compose) { command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; } ||
      command -v docker-compose >/dev/null 2>&1 ;;
    py:*) command -v python3 >/dev/null 2>&1 && python3 -c "import ${1#py:}" >/dev/null 2>&1 ;;
    go:*) compgen -G "/usr/share/gocode/src/${1#go:}/*.go" >/dev/null ;;
    daemon) docker_answers ;;
    *) echo "prereqs.sh: $list: unknown check $1" >&2; exit 64 ;;
  esac
}

# Every line whose targets include TARGET and whose check fails.
missing_lines() {
  local targets check package why
  while read -r targets check package why; do
    case "$targets" in '' | '#'*) continue ;; esac
    [[ ",$targets," == *",$target,"* ]] || continue
    present "$check" || printf '%s\t%s\t%s\n' "$check" "$package" "$why"
  done <"$list"
}

missing=$(missing_lines) || exit $?
[ -z "$missing" ] && exit 0

apt=() pip=() manual=() daemon=""
while IFS=$'\t' read -r check package why; do
  case "$check:$package" in
    daemon:*) daemon=$why ;;
    *:pip:*) pip+=("${package#pip:}") ;;
    *:manual:*) manual+=("${package#manual:} ($why)") ;;
    *) apt+=("$package") ;;
  esac
done <<<"$missing"

can_install() {
  [ "$mode" != never ] && [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] &&
    command -v apt-get >/dev/null 2>&1
}

if [ ${#manual[@]} -eq 0 ] && { [ ${#apt[@]} -gt 0 ] || [ ${#pip[@]} -gt 0 ]; } && can_install; then
  if [ ${#apt[@]} -gt 0 ]; then
    echo "prereqs: installing ${apt[*]} (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq "${apt[@]}" >/dev/null; } ||
      { echo "prereqs: apt-get install ${apt[*]} failed" >&2; exit 1; }
  fi
  if [ ${#pip[@]} -gt 0 ]; then
    echo "prereqs: installing ${pip[*]} (pip)" >&2
    python3 -m pip install -q "${pip[@]}" >&2 ||
      { echo "prereqs: python3 -m pip install ${pip[*]} failed" >&2; exit 1; }
  fi
  # Check again: what was installed must now be found (and a daemon may still be missing).
  missing=$(missing_lines) || exit $?
  [ -z "$missing" ] && exit 0
  apt=() pip=() daemon=""
  while IFS=$'\t' read -r check package why; do
    case "$check:$package" in
      daemon:*) daemon=$why ;;
      *:pip:*) pip+=("${package#pip:}") ;;
      *) apt+=("$package") ;;
    esac
  done <<<"$missing"
fi
if [ "$mode" = always ] && [ ${#apt[@]} -gt 0 ] && ! can_install; then
  echo "prereqs: --install needs root on Debian with apt-get" >&2
fi

{
  echo "make $target cannot run: prerequisites are missing."
  while IFS=$'\t' read -r check package why; do
    [ "$check" = daemon ] && continue
    printf '  - %s: %s (%s)\n' "${package#*:}" "$why" "$check"
  done <<<"$missing"
  [ ${#apt[@]} -gt 0 ] && echo "Install them with: sudo apt-get install -y ${apt[*]}"
  [ ${#pip[@]} -gt 0 ] && echo "Install the Python modules with: python3 -m pip install ${pip[*]}"
  for m in "${manual[@]}"; do echo "Install by hand: ${m//_/ }"; done
  [ -n "$daemon" ] && echo "No Docker daemon answers (${daemon}): start one with \`sudo dockerd &\` or \`sudo systemctl start docker\`."
  [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && [ "$mode" = never ] &&
    echo "(Run as root without PREREQS_INSTALL=never to install them automatically.)"
} >&2
exit 1
