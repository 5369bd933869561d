#!/usr/bin/env bash
# Records the realistic benchmark capture in a network-namespace lab, as root, with real
# tools: bulk and short HTTP, hping3 SYN and UDP floods with random source ports (and a
# spoofed one with random source addresses), and an nmap SYN scan of thousands of ports.
#
#   sudo scripts/record-bench.sh                       # bench-data/lab.pcap, a few million packets
#   sudo SCALE=0.2 scripts/record-bench.sh out.pcap    # a short one (CI's smoke run)
#
# SCALE multiplies every flood's duration and the download's size. Four hosts on one
# bridge (10.87.0.0/24): a web server .10, a client .11, a victim .20 and an attacker .66.
# Timeline (SCALE 1):
#   0 s     the client downloads 100 MB from the server (full speed), then
#           200 short page fetches, one every 20 ms
#   2 s     SYN flood: hping3 -S --flood -p 80, random source ports, 6 s, .66 -> .20
#   9 s     spoofed SYN flood: hping3 -S --flood --rand-source, 3 s, -> .20
#   13 s    UDP flood: hping3 --udp --flood, random source ports, 5 s, .66 -> .20
#   19 s    nmap -sS -T4 -p 1-5000 .20 from .66
# Every traffic source is bounded in time and sends only to the lab's addresses. The
# capture (tcpdump on the bridge, full snap length, offloads off so packets have wire
# sizes) is what the tools put on the wire; floods are capped by time, so how many packets
# they reach depends on the machine (typically 2-5 million at SCALE 1).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-data/lab.pcap}
SCALE=${SCALE:-1}
[ "$(id -u)" -eq 0 ] || { echo "record-bench: needs root (network namespaces)" >&2; exit 1; }

P=ntr$$
NET=10.87.0
declare -A HOSTS=([server]=10 [client]=11 [victim]=20 [attacker]=66)
source scripts/lab-net.sh
lab_install nmap hping3 tcpdump iproute2 python3 ethtool curl
lab_up offloads-off
# The victim answers SYNs with RSTs and UDP with port unreachables, as a real host does,
# without the kernel's ICMP rate limit hiding most of them.
ip netns exec "${P}victim" sysctl -qw net.ipv4.icmp_ratelimit=0

secs() { awk -v s="$1" -v k="$SCALE" 'BEGIN { v = s * k; printf "%.2f", (v < 0.5 ? 0.5 : v) }'; }
MB=$(awk -v k="$SCALE" 'BEGIN { v = int(100 * k); print (v < 5 ? 5 : v) }')

mkdir -p "$WORK/www" "$(dirname "$OUT")"
head -c "$((MB * 1024 * 1024))" /dev/urandom > "$WORK/www/bulk.bin"
bg_in br tcpdump -i br0 -s 0 -B 65536 -U -w "$WORK/lab.pcap" -q
bg_in server python3 -m http.server 80 --bind "$NET.10" --directory "$WORK/www" >/dev/null 2>&1
sleep 2
SECONDS=0

short_fetches() {
    for _ in $(seq 200); do
        curl -s -m 2 -o /dev/null "http://$NET.10/" || true
        sleep 0.02
    done
}
# the client: bulk, then short requests (bounded by curl's own time limits)
( run_in client 120 curl -s -m 100 -o /dev/null "http://$NET.10/bulk.bin" || true
  export -f short_fetches; export NET
  run_in client 60 bash -c short_fetches ) &
PIDS+=($!)

flood() { local t=$1; shift; run_in attacker "$t" hping3 -q --flood "$@" >/dev/null 2>&1 || true; }
at 2; flood "$(secs 6)" -S -p 80 "$NET.20"
at 9; flood "$(secs 3)" -S -p 80 --rand-source "$NET.20"
at 13; flood "$(secs 5)" --udp -p 5353 "$NET.20"
at 19; run_in attacker 60 nmap -n -sS -T4 -p 1-5000 "$NET.20" >/dev/null || true
wait "${PIDS[-1]}" 2>/dev/null || true
sleep 1

kill -INT "${PIDS[0]}" 2>/dev/null || true
wait "${PIDS[0]}" 2>/dev/null || true
mv "$WORK/lab.pcap" "$OUT"
echo "record-bench: wrote $OUT ($(stat -c %s "$OUT") bytes, $(tcpdump -r "$OUT" -nn 2>/dev/null | wc -l) packets)"
