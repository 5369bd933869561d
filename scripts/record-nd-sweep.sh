#!/usr/bin/env bash
# Records assets/nd-sweep.pcap, as root: an IPv6 ping sweep by nmap on a link (`nmap -6
# -sn`, which asks with neighbor solicitations, IPv6's ARP) in a two-namespace lab.
# fd00:98::66 pings its neighbor fd00:98::2 (benign neighbor discovery, answered), then
# sweeps fd00:98::/120 (256 addresses, one of them up). Captured on the target's side.
# Every traffic source is bounded in count and time and sends only to lab addresses.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-assets/nd-sweep.pcap}
[ "$(id -u)" -eq 0 ] || { echo "record-nd-sweep: needs root (network namespaces)" >&2; exit 1; }
for tool in nmap tcpdump ip ping; do
    command -v "$tool" > /dev/null || { echo "record-nd-sweep: needs $tool" >&2; exit 1; }
done
A="nd$$a" B="nd$$b"
cleanup() {
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$A"
ip netns add "$B"
ip link add va netns "$A" type veth peer name vb netns "$B"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set va up
ip -n "$B" link set vb up
ip -n "$A" addr add fd00:98::66/64 dev va nodad
ip -n "$B" addr add fd00:98::2/64 dev vb nodad
sleep 2
TMP=$(mktemp)
ip netns exec "$B" timeout 60 tcpdump -i vb -U -w "$TMP" 2> /dev/null &
TD=$!
sleep 1
ip netns exec "$A" ping -6 -c 3 -i 0.2 fd00:98::2 > /dev/null
ip netns exec "$A" timeout 60 nmap -6 -sn -n --max-retries 1 fd00:98::/120
sleep 2
kill -INT "$TD"
wait "$TD" 2>/dev/null || true
mv "$TMP" "$OUT"
chmod 644 "$OUT"
echo "wrote $OUT"
