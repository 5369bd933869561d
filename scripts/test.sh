#!/usr/bin/env bash
# Runs the whole test suite: unit, integration (golden captures in ../shared/pcaps when
# present), CLI and property tests. Tests that need root print SKIP lines when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast --failure-output final
else
    cargo test --no-fail-fast
fi
