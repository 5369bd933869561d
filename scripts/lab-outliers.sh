#!/usr/bin/env bash
# The outlier lab: minutes of benign traffic from several hosts, then three behaviours
# no rule names, in network namespaces on one bridge, captured live by ntop-rs with
# default settings; then a table of which behaviour was flagged as `outlier`, naming
# which host, how fast, and every outlier alert of the benign-only time
# (scripts/outlier_table.py).
#
#   sudo scripts/lab-outliers.sh [NTOP_BINARY] [OUT_DIR]
#
# BENIGN=SECS sets the benign-only time after the 120 s of learning (default 600, so the
# "no outlier alert on benign traffic" claim is measured on 10 minutes).
# Timeline: 0-120 s learning; 120 s to 120+BENIGN benign only; then
#   +0 s    upload: .13 sends 8 MB to .99, a peer no host ever talked to
#   +50 s   DNS burst: .12 asks 200 names of 80-120 random characters, 10 a second
#   +100 s  fan-out: .14 opens one short connection to each of 60 new peers, one a second
# Needs root and python3. Every traffic source is bounded in count and time and sends
# only to the lab's own addresses (10.88.0.0/24). Exit status: 0 when each behaviour
# was flagged naming its host and the benign-only time had no outlier alert.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/ntop-rs}
OUT=${2:-$(mktemp -d)}
BENIGN=${BENIGN:-600}
mkdir -p "$OUT"
BIN=$(realpath "$BIN")

P=nto$$
NET=10.88.0
declare -A HOSTS=([server]=10 [c1]=11 [c2]=12 [c3]=13 [c4]=14 [peer]=99 [farm]=100)
source scripts/lab-net.sh
lab_require lab-outliers python3 ip
# mark NAME DESCRIPTION HOST: the behaviour starts now (wall clock, which a live
# capture's packet times follow).
mark() { printf '%s\t%s\t%s\t%s\n' "$(date +%s.%N)" "$@" >> "$OUT/behaviours.tsv"; }
lab_up offloads-off
# The farm: 60 more addresses (.101-.160) on one host, all answering on port 9000.
for i in $(seq 101 160); do ip -n "${P}farm" addr add "$NET.$i/24" dev vfarm; done
: > "$OUT/behaviours.tsv"

lab_servers server
bg_in peer python3 scripts/lab.py sink 9000
bg_in farm python3 scripts/lab.py sink 9000
sleep 2
END=$((120 + BENIGN + 160))
ip netns exec "${P}br" "$BIN" -i br0 -n --headless --json --duration "$END" --alerts "$OUT/alerts.ndjson" \
    > "$OUT/summary.json" 2> "$OUT/ntop-rs.log" &
NTOP=$!
# The same traffic to a file too, to replay and study a run (ntop-rs --read lab.pcap).
if command -v tcpdump >/dev/null; then bg_in br tcpdump -i br0 -s 128 -U -w "$OUT/lab.pcap" -q 2>/dev/null; fi
sleep 1
SECONDS=0
date +%s.%N > "$OUT/start"

# Benign load for the whole run (and beyond, so the capture never sees it stop): page
# fetches, DNS, pings, a download now and then, an interactive-looking session.
END=$((END + 30))
for c in c1 c2 c3 c4; do
    bg_in "$c" timeout "$END" python3 scripts/lab.py web "http://$NET.10/page$((RANDOM % 5)).html" $((END / 2)) 2
    bg_in "$c" timeout "$END" python3 scripts/lab.py query "$NET.10" $((END / 3)) 3
done
bg_in c2 timeout "$END" ping -q -c $((END / 3)) -i 3 "$NET.10"
bg_in c1 timeout "$END" bash -c "for i in \$(seq $((END / 60))); do curl -s --limit-rate 500K -o /dev/null http://$NET.10/big.bin; sleep 50; done"
bg_in c3 timeout "$END" python3 scripts/lab.py ssh "$NET.10" 22 $((END - 10))

T=$((120 + BENIGN))
at "$T"
date +%s.%N > "$OUT/benign_end"
mark upload "8 MB upload to a never-seen peer" "$NET.13"
run_in c3 60 python3 scripts/lab.py upload "$NET.99" 9000 8388608
at $((T + 50))
mark dns-burst "200 DNS queries for long random names, 10/s" "$NET.12"
run_in c2 60 python3 scripts/lab.py dnsburst "$NET.10" 200 0.1
at $((T + 100))
mark fan-out "60 new peers, one a second" "$NET.14"
run_in c4 90 python3 scripts/lab.py fanout "$NET" 101 160 9000 1

wait "$NTOP" || { echo "lab-outliers: ntop-rs failed:" >&2; cat "$OUT/ntop-rs.log" >&2; exit 1; }
python3 scripts/outlier_table.py "$OUT"
