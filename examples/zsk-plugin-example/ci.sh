#!/usr/bin/env bash
# End to end, the third-party plugin path: install the example package into an environment that
# has zsk, run its tests, see its components in `zsk plugins` with its distribution and version,
# build and train its specs (tiny): its loss and normaliser; its projection head under the
# built-in hinge loss with R1; its critic under the built-in WGAN-GP over the default trunk with
# attention. Then its metric in `zsk eval`'s eval.json, its data format in `zsk data check`, and
# finally uninstall it and see its components gone and a run that used them name the package to
# install. Before any of that: the package type-checks against zsk.api (mypy), and the contract
# catches the bugs its tests plant under `python -O`, where `assert` is gone.
#
#   examples/zsk-plugin-example/ci.sh                 # uses .venv/bin/python of the checkout
#   PYTHON=/path/to/python examples/zsk-plugin-example/ci.sh
#
# No network: the package is installed with --no-deps --no-build-isolation (zsk, setuptools,
# pytest and mypy must already be in the environment). The package is uninstalled again on any exit.
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
    names = ("ralsgan", "pixel", "attribute_projection", "linear_critic", "colour_gap", "class_table")
    if r["distribution"] == sys.argv[2] or r["name"] in names:
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

step "mypy: the package type-checks against zsk.api"
# An editable zsk reaches its modules through an import hook that mypy does not follow, so mypy
# reads zsk from a tree of links laid out as the installed package is.
mkdir -p "$work/zsk-types/zsk"
for part in api:core/api core:core registry:registry testing:core/testing plugins:plugins; do
    ln -s "$root/${part#*:}" "$work/zsk-types/zsk/${part%%:*}"
done
(cd "$here" && MYPYPATH="$work/zsk-types" "$PY" -m mypy)

step "python -O: the contract still catches each planted bug"
(cd "$here" && "$PY" -O -m pytest -q -p no:cacheprovider tests/test_example_planted_bugs.py)

step "zsk plugins lists its components with distribution $DIST and version $version"
actual="$(rows_of_dist)"
expected="dataset class_table $DIST $version
head attribute_projection $DIST $version
head linear_critic $DIST $version
loss ralsgan $DIST $version
metric colour_gap $DIST $version
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

for spec in projection critic; do
    step "spec-$spec.yaml: build and train 3 steps"
    zsk build "$here/spec-$spec.yaml" --out "$work/$spec" "${tiny[@]}"
    zsk train "$work/$spec" --steps 3 --device cpu
    [[ -s "$work/$spec/metrics.jsonl" ]] || fail "training spec-$spec.yaml wrote no metrics"
done
grep -q '"d/r1"' "$work/projection/metrics.jsonl" || fail "the projection run logged no R1 term"
grep -q '"d/wgan_gp"' "$work/critic/metrics.jsonl" || fail "the critic run logged no WGAN-GP term"

step "zsk eval --metric colour_gap writes the plugin's metric to eval.json"
zsk eval "$work/projection" --metric colour_gap --images-per-class 2 --probe-steps 2 --json \
    >"$work/eval.json"
"$PY" - "$work/projection/eval.json" <<'EOF'
import json
import sys

outcome = json.load(open(sys.argv[1]))["metrics"]["colour_gap"]
assert outcome.get("failed") is None, outcome
values = outcome["values"]
assert values["classes"] == 2 and values["colour_gap"] >= 0, values
print("eval.json metrics.colour_gap:", values)
EOF

step "zsk data check reads a folder in the plugin's class_table format"
"$PY" - "$work/data" "$work/table" <<'EOF'
import shutil
import sys
from pathlib import Path

source, table = Path(sys.argv[1]), Path(sys.argv[2])
classes = [line.split()[1] for line in (source / "classes.txt").read_text().splitlines()]
predicates = [line.split()[1] for line in (source / "predicates.txt").read_text().splitlines()]
matrix = (source / "predicate-matrix-continuous.txt").read_text().splitlines()
unseen = set((source / "testclasses.txt").read_text().split())
rows = [",".join(["class", "split", *predicates])]
for name, values in zip(classes, matrix, strict=True):
    split = "unseen" if name in unseen else "seen"
    rows.append(",".join([name, split, *(str(float(v) / 100) for v in values.split())]))
table.mkdir()
(table / "classes.csv").write_text("\n".join(rows) + "\n")
shutil.copytree(source / "JPEGImages", table / "images")
EOF
zsk data check "$work/table" --json >"$work/check.json"
"$PY" - "$work/check.json" <<'EOF'
import json
import sys

report = json.load(open(sys.argv[1]))
assert report["format"] == "class_table" and report["classes"] == 14, report
assert len(report["unseen"]) == 2 and report["undecodable"] == [], report
print("zsk data check: format", report["format"], "with", report["classes"], "classes")
EOF

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

step "zsk train on a run built with it names the package and version to install"
set +e
zsk train "$work/run" --steps 4 --device cpu 2>"$work/train-after.err"
status=$?
set -e
[[ $status -eq 2 ]] || fail "training the run without the plugin exited $status, not 2"
install="came from $DIST $version when this run was built, which is not installed: install it"
grep -qF "$install with \`pip install '$DIST==$version'\`" "$work/train-after.err" \
    || fail "$(cat "$work/train-after.err")"
echo "refused as expected: $(grep -F "$install" "$work/train-after.err" | head -n 1)"

step "ok: $DIST installs, lists, builds, trains and uninstalls cleanly"
