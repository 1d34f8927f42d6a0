#!/usr/bin/env bash
# Smoke test of a plain install: run with a virtual environment active into which
# nothing but regctl's own dependencies were installed (no test extras, no dev tools).
#
#   1. the README's quick-start command, verbatim (it runs `pip install .` itself);
#   2. one call of every regctl command on a scratch copy of examples/mlruns.
#
# Fails on a non-zero exit status where success is expected, on the wrong status
# where a failure is expected, and on any "Traceback" in a command's output.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VIRTUAL_ENV:-}" ]; then
    echo "smoke: activate the virtual environment to test first" >&2
    exit 2
fi
for variable in REGCTL_STORE MLFLOW_TRACKING_URI MLFLOW_REGISTRY_URI; do
    unset "$variable"
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
calls=0

# check EXPECTED_STATUS COMMAND...: run COMMAND, report a wrong status or a traceback.
check() {
    local expected=$1 status=0
    shift
    calls=$((calls + 1))
    "$@" >"$scratch/out" 2>"$scratch/err" || status=$?
    if [ "$status" -ne "$expected" ] || grep -q "Traceback" "$scratch/out" "$scratch/err"; then
        failures=$((failures + 1))
        echo "smoke: FAILED (exit $status, expected $expected): $*" >&2
        sed 's/^/    /' "$scratch/out" "$scratch/err" >&2
    fi
}

# 1. The quick start, exactly as README.md shows it.
quick_start=$(awk '/^## Quick start/ {section = 1; next}
                   /^## / {section = 0}
                   section && /^```sh/ {block = 1; next}
                   /^```/ {block = 0}
                   section && block && /pip install \. / {print; exit}' README.md)
if [ -z "$quick_start" ]; then
    echo "smoke: README.md has no quick-start line with 'pip install .'" >&2
    exit 1
fi
echo "smoke: $quick_start" >&2
check 0 bash -c "$quick_start"
grep -q "champion" "$scratch/out" || { echo "smoke: the quick start listed no versions" >&2; failures=$((failures + 1)); }
check 0 bash -c "$quick_start"   # a second time: the quick start is re-runnable

# 1b. The tour, as README.md shows it, twice in a row (its first line starts from a fresh copy).
tour=$(awk '/^## Tour/ {section = 1; next}
            /^## / {section = 0}
            section && /^```sh/ {block = 1; next}
            /^```/ {block = 0}
            section && block && !/^#/ && NF' README.md | sed "s|/tmp/regctl-tour|$scratch/regctl-tour|g")
for pass in 1 2; do
    while IFS= read -r line; do
        expected=$(printf '%s\n' "$line" | sed -nE 's/.*#[[:space:]]*exit ([0-9]).*/\1/p')
        check "${expected:-0}" env REGCTL_STORE="$scratch/regctl-tour" bash -c "$line"
    done <<<"$tour"
done

# 2. Every command once, through the regctl script the install put on PATH.
command -v regctl >/dev/null || { echo "smoke: no regctl on PATH" >&2; exit 1; }
store="$scratch/mlruns"
cp -r examples/mlruns "$store"
export REGCTL_STORE="$store"
artifacts="$scratch/model"
mkdir "$artifacts"
printf 'flavors: {}\n' >"$artifacts/MLmodel"

check 0 regctl --version
check 0 regctl --help
check 0 regctl models
check 0 regctl versions iris-classifier --all
check 0 regctl versions iris-classifier --limit 1 --json
check 0 regctl describe iris-classifier
check 0 regctl describe iris-classifier --alias champion
check 0 regctl describe iris-classifier --version 1 --json
check 0 regctl alias list iris-classifier
check 0 regctl resolve models:/iris-classifier@champion
check 0 regctl resolve models:/iris-classifier/Staging --json
check 0 regctl register "$artifacts" --name smoke-model --tag stage=smoke --alias candidate
check 0 regctl verify models:/smoke-model/1
check 0 regctl resolve models:/smoke-model@candidate --verify
check 0 regctl alias set iris-classifier champion 1 --expect 2
check 0 regctl alias rollback iris-classifier champion
check 0 regctl alias delete smoke-model candidate
check 0 regctl tag iris-classifier owner/team=smoke
check 0 regctl tag iris-classifier --delete owner/team
check 0 regctl tag smoke-model reviewed=yes --version 1
check 0 regctl describe smoke-model --set "Smoke test."
check 0 regctl stage smoke-model 1 Staging
check 0 regctl rename smoke-model smoke-model-renamed
check 0 regctl delete smoke-model-renamed --version 1 --yes
check 0 regctl delete smoke-model-renamed --yes
check 0 regctl search "name = 'iris-classifier' AND tags.validation_status = 'approved'" --json
check 0 regctl search --models "name LIKE 'iris%'"
check 0 regctl download models:/iris-classifier@champion "$scratch/downloaded"
check 0 regctl diff models:/iris-classifier/2 models:/iris-classifier@champion
check 1 regctl diff models:/iris-classifier/1 models:/iris-classifier/2
check 0 regctl gc iris-classifier --keep 1 --dry-run
check 0 regctl push iris-classifier --to "$scratch/pushed"
check 0 regctl stage iris-classifier 1 Production --dry-run
check 0 regctl history
check 0 regctl doctor
check 0 regctl doctor --fix --json
check 0 regctl completion bash
check 0 regctl man
check 0 regctl store --json
# Failures are one line and a documented status, never a traceback.
check 1 regctl resolve models:/iris-classifier/7
check 2 regctl delete iris-classifier
check 2 regctl search "name = iris"
check 3 regctl alias set iris-classifier champion 1 --expect 1
check 4 env -u REGCTL_STORE MLFLOW_REGISTRY_URI=databricks-uc regctl models
check 5 env -u REGCTL_STORE MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 MLFLOW_TRACKING_URI=http://mlflow.internal:5000 regctl models

# Every command that `regctl --help` and `regctl alias --help` list was called above.
listed() { regctl "$@" --help | awk '/^Commands:/ {on = 1; next} on && !NF {exit} on {print $1}'; }
require() {
    if ! grep -qE "^check [0-9] regctl $1( |$)" "$0"; then
        echo "smoke: command 'regctl $1' is not exercised" >&2
        failures=$((failures + 1))
    fi
}
for name in $(listed); do
    if [ "$name" = alias ]; then
        for sub in $(listed alias); do require "alias $sub"; done
    else
        require "$name"
    fi
done

echo "smoke: $calls calls, $failures failure(s)" >&2
[ "$failures" -eq 0 ]
