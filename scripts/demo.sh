#!/usr/bin/env bash
# Sets up, builds and runs the demo: assets/demo.pcap (a 4.5-minute lab recording with
# scans, floods and unusual behaviour among normal traffic) replayed in the terminal UI.
# Extra arguments go to ntop-rs (e.g. --speed 4). Keys: ? help, +/- speed, q quit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
exec ./target/release/ntop-rs -r assets/demo.pcap "$@"
