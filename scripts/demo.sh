#!/usr/bin/env bash
# A demo host (config, one file-backed slot, the tiny guest) driven by vmim.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python -m vmim.testbed demo "$@"
