#!/usr/bin/env bash
# Thin wrapper: the logic lives in the xtask.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo xtask release "$@"
