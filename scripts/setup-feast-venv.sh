#!/usr/bin/env bash
# Install Feast 0.67 (duckdb offline store) into its OWN virtual environment for the benchmark.
#
# Feast pins versions of pandas, pyarrow, pydantic... that clash with ours, so it never goes into
# .venv. The benchmark harness (python -m benchmarks.run) looks for the interpreter at
# $FEAST_VENV/bin/python and, when it is missing, says so in its report.
#
# Usage: bash scripts/setup-feast-venv.sh            (default: ~/.cache/featurestore/feast-venv)
#        FEAST_VENV=/some/dir bash scripts/setup-feast-venv.sh
set -euo pipefail

PYTHON="${PYTHON:-python3}"
FEAST_VENV="${FEAST_VENV:-${HOME}/.cache/featurestore/feast-venv}"
FEAST_SPEC="${FEAST_SPEC:-feast[duckdb]==0.67.*}"

if [[ -x "${FEAST_VENV}/bin/python" ]] && "${FEAST_VENV}/bin/python" -c 'import feast' 2>/dev/null; then
  echo "Feast already installed in ${FEAST_VENV}: $("${FEAST_VENV}/bin/python" -c 'import feast; print(feast.__version__)')"
  exit 0
fi

echo "Creating ${FEAST_VENV} with $(${PYTHON} --version)"
"${PYTHON}" -m venv "${FEAST_VENV}"
"${FEAST_VENV}/bin/python" -m pip install --quiet --upgrade pip
"${FEAST_VENV}/bin/python" -m pip install --quiet "${FEAST_SPEC}" psutil
"${FEAST_VENV}/bin/python" -c 'import feast, duckdb; print("Feast", feast.__version__, "duckdb", duckdb.__version__, "installed")'
