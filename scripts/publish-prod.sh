#!/usr/bin/env bash
# Thin wrapper: the logic lives in the xtask. DRY_RUN=1 adds --dry-run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${DRY_RUN:-0}" = 1 ]; then
  exec cargo xtask publish-prod --dry-run "$@"
fi
exec cargo xtask publish-prod "$@"
