#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: set up, lint, type-check, test.
# Nothing may skip here: this script sets up everything the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check src tests bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
VMIM_STRICT_SKIPS=1 .venv/bin/python -m pytest "$@"
