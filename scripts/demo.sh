#!/usr/bin/env bash
# Sets up, builds and runs the demo: assets/demo.pcap (a 4.5-minute lab recording with
# scans, floods and unusual behaviour among normal traffic) replayed in the terminal UI.
# Extra arguments go to ntop-rs (e.g. --speed 4). Keys: ? help, +/- speed, q quit.
#
# The replay runs at DEMO_SPEED (8x real time) unless a --speed is given: the first
# attack, 2.5 minutes into the recording, shows within 30 s (tests/tui.rs checks it).
set -euo pipefail
DEMO_SPEED=8
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
speed=(--speed "$DEMO_SPEED")
for a in "$@"; do
    case "$a" in --speed|--speed=*) speed=() ;; esac
done
exec ./target/release/ntop-rs -r assets/demo.pcap "${speed[@]}" "$@"
