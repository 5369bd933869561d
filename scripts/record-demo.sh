#!/usr/bin/env bash
# Records assets/demo.pcap (about 150 s) in a network-namespace lab, as root.
#
# Six hosts on one bridge (10.88.0.0/24): server .10 (web, DNS, an SSH-like echo
# service), clients .11 .12 .13, a never-seen peer .99 and an attacker .66. Timeline:
#   0-150 s   clients browse the web and ask DNS; pings
#   10 s      bulk download (3 MB) by .11
#   15-75 s   SSH-like interactive session .12 -> .10:22
#   40 s      vertical port scan: nmap -sS -T4 -p 1-1000 .10 from .66
#   60 s      horizontal sweep: nmap -sn 10.88.0.0/24 (ARP) from .66
#   85 s      SYN flood: hping3 -S -p 80, 4000 packets at ~4000/s, .66 -> .10
#   100 s     UDP flood: hping3 --udp -p 5353, 4000 packets at ~4000/s, .66 -> .10
#   115 s     unusual: .13 uploads 4 MB to .99, a peer it never talked to
# Every traffic source is bounded in count and time and sends only to lab addresses.
# Packets are captured on the bridge with a 200-byte snap length (wire lengths kept),
# with segmentation offloads off so packets have wire sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-assets/demo.pcap}
[ "$(id -u)" -eq 0 ] || { echo "record-demo: needs root (network namespaces)" >&2; exit 1; }

missing=()
for pkg in nmap hping3 tcpdump iproute2 iputils-ping python3 ethtool; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

P=ntd$$
NET=10.88.0
declare -A HOSTS=([server]=10 [c1]=11 [c2]=12 [c3]=13 [peer]=99 [attacker]=66)
PIDS=()
WORK=$(mktemp -d)

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for h in "${!HOSTS[@]}" br; do ip netns del "$P$h" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# run_in NS SECONDS CMD...: CMD inside namespace NS, killed after SECONDS.
run_in() { local ns=$1 secs=$2; shift 2; timeout "$secs" ip netns exec "$P$ns" "$@"; }
# bg_in NS CMD...: CMD inside NS in the background (ip netns exec execs, so $! is CMD).
bg_in() { local ns=$1; shift; ip netns exec "$P$ns" "$@" & PIDS+=($!); }
at() { sleep "$(( $1 - SECONDS ))" 2>/dev/null || true; }

ip netns add "${P}br"
ip -n "${P}br" link add br0 type bridge
ip -n "${P}br" link set br0 up
for h in "${!HOSTS[@]}"; do
    ip netns add "$P$h"
    ip link add "v$h" netns "$P$h" type veth peer name "b$h" netns "${P}br"
    ip -n "${P}br" link set "b$h" master br0 up
    ip netns exec "$P$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$P$h" addr add "$NET.${HOSTS[$h]}/24" dev "v$h"
    ip -n "$P$h" link set "v$h" up
    ip -n "$P$h" link set lo up
    # No segmentation offloads: the capture shows wire-sized packets, not 64 KB GSO ones.
    ip netns exec "$P$h" ethtool -K "v$h" tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec "${P}br" ethtool -K "b$h" tso off gso off gro off >/dev/null 2>&1 || true
done
ip netns exec "${P}br" sysctl -qw net.ipv6.conf.all.disable_ipv6=1

bg_in br tcpdump -i br0 -s 200 -U -w "$WORK/demo.pcap" -q
bg_in server python3 scripts/lab.py http 80 "$WORK/www"
bg_in server python3 scripts/lab.py dns 53
bg_in server python3 scripts/lab.py echo 22
bg_in peer python3 scripts/lab.py sink 9000
sleep 2
SECONDS=0

for c in c1 c2 c3; do
    bg_in "$c" timeout 150 python3 scripts/lab.py web "http://$NET.10/page$((RANDOM % 5)).html" 40 3.5
    bg_in "$c" timeout 150 python3 scripts/lab.py query "$NET.10" 60 2.5
done
bg_in c2 timeout 150 ping -q -c 30 -i 4 "$NET.10"
at 10; bg_in c1 timeout 60 curl -s --limit-rate 1M -o /dev/null "http://$NET.10/big.bin"
at 15; bg_in c2 timeout 70 python3 scripts/lab.py ssh "$NET.10" 22 60
at 40; run_in attacker 60 nmap -n -sS -T4 -p 1-1000 "$NET.10" >/dev/null
at 60; run_in attacker 60 nmap -n -sn "$NET.0/24" >/dev/null
at 85; run_in attacker 20 hping3 -q -S -p 80 -c 4000 -i u250 "$NET.10" >/dev/null 2>&1 || true
at 100; run_in attacker 20 hping3 -q --udp -p 5353 -c 4000 -i u250 -d 64 "$NET.10" >/dev/null 2>&1 || true
at 115; run_in c3 30 python3 scripts/lab.py upload "$NET.99" 9000 4194304
at 150
sleep 1

kill "${PIDS[0]}" 2>/dev/null || true
wait "${PIDS[0]}" 2>/dev/null || true
mv "$WORK/demo.pcap" "$OUT"
echo "record-demo: wrote $OUT ($(stat -c %s "$OUT") bytes)"
