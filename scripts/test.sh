#!/usr/bin/env bash
# Runs the whole test suite: unit, integration (golden captures in ../shared/pcaps when
# present), CLI, property, TUI (tmux), live-capture and lab tests.
#
# The tests that need root (network namespaces, capture devices, dropping privileges:
# tests/live.rs, privs.rs, metrics.rs, lab_detect.rs, lab_outliers.rs) are left out when not root,
# and nextest counts them as skipped in its summary line. A test whose prerequisite is
# missing (tshark, tmux, ../shared/pcaps) prints a SKIP line; under CI (CI=true) every
# missing prerequisite is a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

ROOT_ONLY='binary(live) | binary(privs) | binary(metrics) | binary(lab_detect) | binary(lab_outliers)'
filter=()
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        echo "test: CI runs as root; the root-only tests cannot run as $(id -un)" >&2
        exit 1
    fi
    echo "test: not root: the live-capture, privilege and lab tests are skipped (run as root to include them)" >&2
    filter=(-E "not ($ROOT_ONLY)")
fi

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast --failure-output final "${filter[@]}"
else
    [ "${#filter[@]}" -eq 0 ] || echo "test: cargo-nextest is missing, so the root-only tests run and SKIP" >&2
    cargo test --no-fail-fast
fi
