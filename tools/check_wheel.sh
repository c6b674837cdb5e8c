#!/usr/bin/env bash
# Build the sdist and, from it, the wheel; check both with twine; install each into a fresh
# virtual environment away from the source tree and import every module of the wheel, so a
# subpackage or data file missing from either fails here, not on a user's Pi.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/build-env"
"$work/build-env/bin/pip" install -q build twine
"$work/build-env/bin/python" -m build -q --outdir "$work/dist" . >/dev/null
wheel=$(ls "$work"/dist/sensekit-*.whl)
sdist=$(ls "$work"/dist/sensekit-*.tar.gz)
echo "built $(basename "$sdist") and $(basename "$wheel")"
"$work/build-env/bin/twine" check --strict "$work"/dist/*
# What a user and a type checker need beside the code.
"$work/build-env/bin/python" - "$wheel" "$sdist" <<'PY'
import sys, tarfile, zipfile
wheel, sdist = zipfile.ZipFile(sys.argv[1]).namelist(), tarfile.open(sys.argv[2]).getnames()
need = {"sensekit/py.typed", "sensekit/fusion/weights/", "sensekit/power/tables/"}
missing = [n for n in need if not any(name.startswith(n) for name in wheel)]
missing += ["LICENSE in the wheel"] * (not any(n.endswith(".dist-info/licenses/LICENSE")
                                              or n.endswith(".dist-info/LICENSE") for n in wheel))
root = sdist[0].split("/")[0]
missing += [f"{n} in the sdist" for n in ("LICENSE", "README.md", "CHANGELOG.md", "setup.cfg",
                                          "constraints/pi-bookworm.txt")
            if f"{root}/{n}" not in sdist]
if missing:
    sys.exit(f"missing: {', '.join(missing)}")
print(f"wheel: {len(wheel)} files, sdist: {len(sdist)} files; py.typed, data and LICENSE in")
PY

# 0. The sdist alone builds and installs (as pip does on a platform without the wheel).
python3 -m venv "$work/from-sdist"
"$work/from-sdist/bin/pip" install -q "$sdist"
(cd "$work" && from-sdist/bin/python -c "
import pathlib, sensekit
where = pathlib.Path(sensekit.__file__).resolve()
assert 'site-packages' in where.parts, where
assert (where.parent / 'py.typed').is_file()
print('sdist install ok:', where.parent)")

# 1. Core install only: import sensekit, run the CLI, no optional package pulled in.
python3 -m venv "$work/core"
"$work/core/bin/pip" install -q "$wheel"
(cd "$work" && core/bin/python -c "import sensekit, sys; print('core import ok', sensekit.__version__)"
 core/bin/sensekit --version)

# 2. Everything: every module of the wheel imports.
python3 -m venv "$work/all"
"$work/all/bin/pip" install -q torch==2.13.0
"$work/all/bin/pip" install -q "$wheel[all]"
(cd "$work" && all/bin/python - <<'PY'
import importlib, pkgutil, sys
import sensekit
from sensekit.power.model import available_models, load_power_model

names = [m.name for m in pkgutil.walk_packages(sensekit.__path__, "sensekit.")
         if not m.name.endswith("__main__")]  # importing __main__ runs the CLI
failed = []
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:  # report every failure, not just the first
        failed.append(f"{name}: {exc!r}")
for model in available_models():
    load_power_model(model)
print(f"imported {len(names)} modules, loaded {len(available_models())} power models")
if failed:
    print("\n".join(failed))
    sys.exit(1)
PY
)
