#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment and import every module of it,
# so a subpackage or data file missing from the wheel fails here, not on a user's Pi.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/build-env"
"$work/build-env/bin/pip" install -q build
"$work/build-env/bin/python" -m build -q --wheel --outdir "$work/dist" . >/dev/null
wheel=$(ls "$work"/dist/sensekit-*.whl)
echo "built $(basename "$wheel")"

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
