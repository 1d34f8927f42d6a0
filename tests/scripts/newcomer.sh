#!/usr/bin/env bash
# A newcomer's first session with an installed regctl, step by step as the README shows it:
# the quick start, reading, completion installed the README's way, search, register,
# download, diff and gc. Any step that fails stops the script with its name on stderr.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf '== %s\n' "$*" >&2; }
fail() { printf 'newcomer: %s\n' "$*" >&2; exit 1; }
cp -r "$repo/examples/mlruns" "$work/mlruns"
cd "$work"

step "quick start"
regctl --store mlruns versions iris-classifier | cut -f1 | grep -qx 2 || fail "versions lists no version 2"

step "the store from the environment; reading"
export REGCTL_STORE="$work/mlruns"
regctl models | cut -f1 | grep -qx iris-classifier || fail "models does not list iris-classifier"
regctl describe iris-classifier --alias champion >/dev/null
path=$(regctl resolve models:/iris-classifier@champion)
[ -f "$path/MLmodel" ] || fail "resolve printed $path, which holds no MLmodel"

step "completion, installed as the README says"
# shellcheck disable=SC1090
source <(regctl completion bash)
COMP_LINE="regctl versions iris-c"; COMP_POINT=${#COMP_LINE}
COMP_WORDS=(regctl versions iris-c); COMP_CWORD=2; COMPREPLY=()
_regctl
[[ " ${COMPREPLY[*]} " == *" iris-classifier "* ]] || fail "completion offered: ${COMPREPLY[*]:-nothing}"
COMP_LINE="regctl alias set iris-classifier ch"; COMP_POINT=${#COMP_LINE}
COMP_WORDS=(regctl alias set iris-classifier ch); COMP_CWORD=4; COMPREPLY=()
_regctl
[[ " ${COMPREPLY[*]} " == *" champion "* ]] || fail "alias completion offered: ${COMPREPLY[*]:-nothing}"

step "search"
found=$(regctl search "name = 'iris-classifier' AND tags.validation_status = 'approved'" | cut -f2)
[ -n "$found" ] || fail "search found no approved version"

step "register a copy of the champion, then download it"
v=$(regctl register models:/iris-classifier@champion --name iris-classifier --tag validation_status=pending)
[[ "$v" =~ ^[0-9]+$ ]] || fail "register printed '$v', not a version number"
regctl download "models:/iris-classifier/$v" "$work/copy" >/dev/null
[ -f "$work/copy/MLmodel" ] || fail "download left no MLmodel in $work/copy"

step "diff: equal files, different stage and tags (exit 1 as diff does)"
set +e
regctl diff models:/iris-classifier@champion "models:/iris-classifier/$v" >/dev/null
status=$?
set -e
[ "$status" -eq 1 ] || fail "diff exited $status, not 1"

step "gc, dry run first"
regctl gc iris-classifier --keep 1 --dry-run 2>&1 | grep -q '^would: ' || fail "gc --dry-run said no 'would:'"
before=$(regctl versions iris-classifier --all | wc -l)
regctl gc iris-classifier --keep 1 2>/dev/null
after=$(regctl versions iris-classifier | wc -l)
[ "$after" -le "$before" ] || fail "gc left more versions than there were"

step "the store is healthy"
regctl doctor >/dev/null
printf 'newcomer: every step worked\n' >&2
