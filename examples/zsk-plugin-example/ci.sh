#!/usr/bin/env bash
# End to end, the third-party plugin path: install the example package into an environment that
# has zsk, run its tests, see its components in `zsk plugins` with its distribution and version,
# build and train its spec (tiny), uninstall it and see its components gone.
#
#   examples/zsk-plugin-example/ci.sh                 # uses .venv/bin/python of the checkout
#   PYTHON=/path/to/python examples/zsk-plugin-example/ci.sh
#
# No network: the package is installed with --no-deps --no-build-isolation (zsk, setuptools and
# pytest must already be in the environment). The package is uninstalled again on any exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

PY="${PYTHON:-.venv/bin/python}"
if [[ "$PY" == */* ]]; then
    PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"
else
    PY="$(command -v "$PY")"
fi
DIST=zsk-plugin-example
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
unset ZSK_LOAD_PLUGINS  # the default: every installed plugin loads

work="$(mktemp -d)"
cleanup() {
    "$PY" -m pip uninstall -y -q "$DIST" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

zsk() { "$PY" -c 'import sys; from zsk.core.cli.main import main; sys.argv[0] = "zsk"; main()' "$@"; }
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'ci.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# The dist's (kind, name, distribution, version) rows in `zsk plugins --json`, one per line.
rows_of_dist() {
    zsk plugins --json >"$work/plugins.json"
    "$PY" - "$work/plugins.json" "$DIST" <<'EOF'
import json
import sys

rows = json.load(open(sys.argv[1]))
for r in sorted(rows, key=lambda r: (r["kind"], r["name"])):
    if r["distribution"] == sys.argv[2] or r["name"] in ("ralsgan", "pixel"):
        print(r["kind"], r["name"], r["distribution"], r["version"])
EOF
}

step "install $DIST into $PY (editable, no network)"
"$PY" -m pip install -q --no-deps --no-build-isolation -e "$here"
version="$("$PY" -c "from importlib.metadata import version; print(version('$DIST'))")"
echo "installed $DIST $version"

step "its own tests (the entry-point test must run, not skip)"
(cd "$here" && "$PY" -m pytest -q -p no:cacheprovider -rs) | tee "$work/pytest.log"
if grep -q "skipped" "$work/pytest.log"; then fail "a test of the installed package skipped"; fi

step "zsk plugins lists its components with distribution $DIST and version $version"
actual="$(rows_of_dist)"
expected="loss ralsgan $DIST $version
normalizer pixel $DIST $version"
echo "$actual"
[[ "$actual" == "$expected" ]] || fail "zsk plugins shows:
$actual
expected:
$expected"
zsk plugins --json --failed >"$work/failed.json"
if grep -q "\"$DIST\"" "$work/failed.json"; then fail "$DIST is listed as failed: $(cat "$work/failed.json")"; fi

step "a tiny synthetic data set"
zsk data synth "$work/data" --classes 14 --unseen 2 --images-per-class 4 --min-size 16 --max-size 20

tiny=(
    --set "data.params.root=$work/data"
    --set model.image_size=16
    --set model.embedding_dim=8
    --set model.noise_dim=4
    --set "model.generator.params.base_channels=8"
    --set "model.generator.params.max_channels=16"
    --set "model.trunk.params.channels=[8,16]"
    --set "model.heads.reconstruction_feature.params.channels=8"
    --set train.batch_size=4
    --set train.log_every=1
)

step "zsk build its spec (built-in components next to the plugin's)"
zsk build "$here/spec.yaml" --out "$work/run" "${tiny[@]}"
grep -q "ralsgan" "$work/run/spec.lock.yaml" || fail "spec.lock.yaml does not name ralsgan"
grep -q "$DIST" "$work/run/spec.lock.yaml" || fail "spec.lock.yaml does not record $DIST"

step "zsk train --steps 3"
zsk train "$work/run" --steps 3 --device cpu
[[ -s "$work/run/metrics.jsonl" ]] || fail "training wrote no metrics"

step "uninstall $DIST: its components are gone"
"$PY" -m pip uninstall -y -q "$DIST"
actual="$(rows_of_dist)"
[[ -z "$actual" ]] || fail "still listed after uninstalling:
$actual"
set +e
zsk build "$here/spec.yaml" --out "$work/run-after" "${tiny[@]}" 2>"$work/build-after.err"
status=$?
set -e
[[ $status -eq 2 ]] || fail "building the spec without the plugin exited $status, not 2"
grep -q "unknown loss 'ralsgan'" "$work/build-after.err" || fail "$(cat "$work/build-after.err")"
echo "refused as expected: $(head -n 1 "$work/build-after.err")"

step "ok: $DIST installs, lists, builds, trains and uninstalls cleanly"
