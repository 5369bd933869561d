#!/usr/bin/env bash
# Live capture under rising load, in a network-namespace pair (as root): at each offered
# rate, the same bounded UDP burst (COUNT datagrams of 100 bytes from ntop-lab) is sent
# twice across a veth pair, once captured by `ntop-rs --headless` and once by
# `tcpdump -w /dev/null`, each with a 16 MiB kernel buffer. Prints what each received
# and dropped (kernel + our own rings), then renders nothing else.
#
#   scripts/bench-live.sh                    # rates 50k 100k 200k 400k pps, 200k packets each
#   RATES="100000 0" COUNT=300000 scripts/bench-live.sh   # 0 = as fast as the sender can
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-live: needs root (network namespaces)" >&2; exit 1; }
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet --bin ntop-rs --bin ntop-lab

RATES=${RATES:-"50000 100000 200000 400000"}
COUNT=${COUNT:-200000}
P=ntb$$
A="${P}a" B="${P}b"
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; }
trap cleanup EXIT
source scripts/veth-pair.sh
veth_pair "$A" "$B" 10.99.0
# The receiver drops the datagrams without ICMP replies (no listener, no rate-limited noise).
ip netns exec "$B" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_echo_ignore_all=1
ip netns exec "$B" iptables -A INPUT -p udp --dport 9 -j DROP 2>/dev/null || true

NTOP=./target/release/ntop-rs
LAB=./target/release/ntop-lab

send() { ip netns exec "$A" "$LAB" udp 10.99.0.2:9 "$COUNT" 100 "$1" > /dev/null; }

run_ntop() {
    local out; out=$(mktemp)
    ip netns exec "$B" "$NTOP" -i vb -B 16 --headless --json udp port 9 > "$out" 2>/dev/null &
    local pid=$!
    sleep 1
    send "$1"
    sleep 1
    kill -INT "$pid"; wait "$pid" || true
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["capture"]; print(d["packets"], c["dropped_kernel"] + c["dropped_interface"] + sum(c["dropped_ring"].values()))' "$out"
    rm -f "$out"
}

run_tcpdump() {
    local err; err=$(mktemp)
    ip netns exec "$B" tcpdump -i vb -B 16384 -nn -w /dev/null udp port 9 2> "$err" &
    local pid=$!
    sleep 1
    send "$1"
    sleep 1
    kill -INT "$pid"; wait "$pid" || true
    local captured dropped
    captured=$(awk '/packets captured/ {print $1}' "$err")
    dropped=$(awk '/dropped by kernel/ {print $1}' "$err")
    echo "$captured $dropped"
    rm -f "$err"
}

printf '%-10s %10s | %12s %10s | %12s %10s\n' "offered" "sent" "ntop-rs got" "dropped" "tcpdump got" "dropped"
for rate in $RATES; do
    read -r ours our_drop < <(run_ntop "$rate")
    read -r theirs their_drop < <(run_tcpdump "$rate")
    label=$([ "$rate" -eq 0 ] && echo "max" || echo "$rate/s")
    printf '%-10s %10s | %12s %10s | %12s %10s\n' "$label" "$COUNT" "$ours" "$our_drop" "$theirs" "$their_drop"
done
