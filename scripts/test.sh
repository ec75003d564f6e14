#!/usr/bin/env bash
# The test command: prepares the machine (as root: packages and the test user), then runs
# every tier. MUST_WORK=1 turns any test that cannot run here into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bun test "$@"
