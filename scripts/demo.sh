#!/usr/bin/env bash
# Sets up, builds and runs the demo: a report of the bundled sample capture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
./target/release/ntop-rs -r assets/sample.pcap --headless "$@"
