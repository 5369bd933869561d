#!/usr/bin/env bash
# Records assets/subnet-scan.pcap, as root: one scanner working through a subnet, `nmap
# -sS -T4 -p 1-100` over twelve hosts at once, in a namespace lab on a bridge. Every
# host answers every SYN with a RST (nothing listens), so per target it is a port scan
# and per port a sweep of twelve hosts: 112 incidents unless the detector sees one
# attack. 10.124.0.66 scans 10.124.0.1-12; captured on the bridge.
# Every traffic source is bounded in count and time and sends only to lab addresses.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-assets/subnet-scan.pcap}
[ "$(id -u)" -eq 0 ] || { echo "record-subnet-scan: needs root (network namespaces)" >&2; exit 1; }
for tool in nmap tcpdump ip; do
    command -v "$tool" > /dev/null || { echo "record-subnet-scan: needs $tool" >&2; exit 1; }
done
P="ss$$"
HOSTS="$(seq 1 12) 66"
cleanup() {
    for i in $HOSTS; do ip netns del "$P$i" 2>/dev/null || true; done
    ip link del "${P}br" 2>/dev/null || true
}
trap cleanup EXIT
ip link add "${P}br" type bridge
ip link set "${P}br" up
for i in $HOSTS; do
    ip netns add "$P$i"
    ip link add "${P}v$i" type veth peer name eth0 netns "$P$i"
    ip link set "${P}v$i" master "${P}br" up
    ip -n "$P$i" addr add "10.124.0.$i/24" dev eth0
    ip -n "$P$i" link set eth0 up
    ip -n "$P$i" link set lo up
done
sleep 2
TMP=$(mktemp)
timeout 60 tcpdump -i "${P}br" -U -w "$TMP" 2> /dev/null &
TD=$!
sleep 1
ip netns exec "${P}66" timeout 50 nmap -n -Pn -sS -T4 --max-retries 1 -p 1-100 10.124.0.1-12 > /dev/null
sleep 1
kill -INT "$TD"
wait "$TD" 2>/dev/null || true
mv "$TMP" "$OUT"
chmod 644 "$OUT"
echo "wrote $OUT"
