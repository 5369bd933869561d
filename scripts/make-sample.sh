#!/usr/bin/env bash
# Regenerates assets/sample.pcap: 4000 frames of synthetic mixed traffic over one minute
# (deterministic: the same bytes every time).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example synth -- assets/sample.pcap --packets 4000 --seed 7 --gap-ns 15000000
