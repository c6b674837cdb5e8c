#!/usr/bin/env bash
# requires-python >= 3.10 and numpy 1.24: install the package on Python 3.10 (JetPack 6's Python)
# with Raspberry Pi OS Bookworm's numpy (constraints/pi-bookworm.txt, the board's tested
# constraints) and what a board runs (ONNX Runtime inference, reports), run the core tests
# and the quick demo there, without torch.
set -euo pipefail
cd "$(dirname "$0")/.."
py310=$(command -v python3.10 2>/dev/null || true)
if [ -z "$py310" ] || ! "$py310" --version >/dev/null 2>&1; then
  py310=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10 2>/dev/null | head -1 || true)
fi
if [ -z "$py310" ]; then
  echo "python 3.10 not found on this machine: skipped (install python3.10 to run this check)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py310" -m venv "$work/venv"
"$work/venv/bin/pip" install -q -c constraints/pi-bookworm.txt ".[gps,i2c,report,infer]" pytest hypothesis
"$work/venv/bin/python" - <<'PY'
import importlib.util, numpy
assert numpy.__version__ == "1.24.2", f"numpy {numpy.__version__}: the constraints did not hold"
assert importlib.util.find_spec("torch") is None, "torch came in: a board install must not pull it"
print("python 3.10, numpy", numpy.__version__, "without torch")
PY
# Core tests only (torch 2.13.0 CPU is provided for 3.11 here); run against the installed copy.
cp -r tests "$work/tests"
(cd "$work" && SENSEKIT_CORPUS="$OLDPWD/../shared/corpus" venv/bin/pytest -q -p no:cacheprovider \
  tests/test_packets.py tests/test_clock.py tests/test_config.py tests/test_errors_url.py \
  tests/test_cli_main.py $(cd "$OLDPWD" && ls tests/test_hub*.py tests/test_align*.py 2>/dev/null))
# The whole pipeline on numpy 1.24 without torch: replay, report with plots, ONNX Runtime fusion.
(cd "$work" && venv/bin/sensekit demo --quick -o demo >/dev/null && ls demo >/dev/null && echo "demo --quick ok")
