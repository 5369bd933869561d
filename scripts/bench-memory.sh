#!/usr/bin/env bash
# Memory and keeping up under hostile traffic: ntop-rs (release, headless, everything
# on) on two generated captures (examples/hostile.rs), peak RSS from GNU time.
#
#   scripts/bench-memory.sh
#
# - rst-pairs: 10 minutes of packet time of forged RST pairs from random addresses at
#   5,000 packets/s (3 million packets). Target: peak RSS < 150 MB, and the run keeps
#   up (it reads 10 minutes of traffic in far less than 10 minutes).
# - million: a SYN flood from a million spoofed sources with a concurrent SYN scan.
#   Target: peak RSS < 200 MB, the flood and the scan both reported.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet --bin ntop-rs --example hostile
mkdir -p bench-data
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
printf '%-10s %10s %9s %10s  %s\n' capture packets seconds "peak RSS" alerts
fail=0
for what in rst-pairs million; do
    file=bench-data/hostile-$what.pcap
    [ -s "$file" ] || ./target/release/examples/hostile "$what" "$file"
    /usr/bin/time -o "$OUT/time" -f "%e %M" ./target/release/ntop-rs -r "$file" --headless --json --no-progress > "$OUT/$what.json"
    read -r secs rss < <(tail -1 "$OUT/time")
    read -r packets kinds < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["packets"], ",".join(sorted({a["kind"] for a in d["alerts"]})) or "-")' "$OUT/$what.json")
    printf '%-10s %10s %9s %7d MB  %s\n' "$what" "$packets" "$secs" $((rss / 1024)) "$kinds"
    case $what in
        rst-pairs) limit=150; want="" ;;
        million) limit=200; want="port_scan syn_flood" ;;
    esac
    [ $((rss / 1024)) -lt "$limit" ] || { echo "target MISSED: $what peak RSS $((rss / 1024)) MB >= $limit MB"; fail=1; }
    for k in $want; do
        [[ ",$kinds," == *",$k,"* ]] || { echo "target MISSED: $what did not report $k"; fail=1; }
    done
done
[ "$fail" -eq 0 ] && echo "targets: met"
exit "$fail"
