#!/usr/bin/env bash
# Records assets/demo.pcap (about 4.5 minutes) in a network-namespace lab, as root.
#
# Six hosts on one bridge (10.88.0.0/24): server .10 (web, DNS, an SSH-like echo
# service), clients .11 .12 .13, a never-seen peer .99 and an attacker .66. The first
# 2.5 minutes are benign only, so the outlier detector (120 s of learning by default)
# knows normal before anything happens. Timeline:
#   0-270 s   clients browse the web and ask DNS; pings
#   10 s      bulk download (3 MB) by .11
#   15-75 s   SSH-like interactive session .12 -> .10:22
#   150 s     vertical port scan: nmap -sS -T4 -p 1-1000 .10 from .66
#   170 s     horizontal sweep: nmap -sn 10.88.0.0/24 (ARP) from .66
#   190 s     SYN flood: hping3 -S -p 80, 4000 packets at ~4000/s, .66 -> .10
#   205 s     UDP flood: hping3 --udp -p 5353, 4000 packets at ~4000/s, .66 -> .10
#   225 s     unusual: .13 uploads 4 MB to .99, a peer it never talked to
#   245 s     unusual: .12 asks 150 DNS names of 80-120 random characters, 10 a second
# Every traffic source is bounded in count and time and sends only to lab addresses.
# Packets are captured on the bridge with a 200-byte snap length (wire lengths kept),
# with segmentation offloads off so packets have wire sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-assets/demo.pcap}
[ "$(id -u)" -eq 0 ] || { echo "record-demo: needs root (network namespaces)" >&2; exit 1; }


P=ntd$$
NET=10.88.0
declare -A HOSTS=([server]=10 [c1]=11 [c2]=12 [c3]=13 [peer]=99 [attacker]=66)
source scripts/lab-net.sh
lab_install nmap hping3 tcpdump iproute2 iputils-ping python3 ethtool
lab_up offloads-off

bg_in br tcpdump -i br0 -s 200 -U -w "$WORK/demo.pcap" -q
lab_servers server
bg_in peer python3 scripts/lab.py sink 9000
sleep 2
SECONDS=0

for c in c1 c2 c3; do
    bg_in "$c" timeout 270 python3 scripts/lab.py web "http://$NET.10/page$((RANDOM % 5)).html" 75 3.5
    bg_in "$c" timeout 270 python3 scripts/lab.py query "$NET.10" 105 2.5
done
bg_in c2 timeout 270 ping -q -c 66 -i 4 "$NET.10"
at 10; bg_in c1 timeout 60 curl -s --limit-rate 1M -o /dev/null "http://$NET.10/big.bin"
at 15; bg_in c2 timeout 70 python3 scripts/lab.py ssh "$NET.10" 22 60
at 150; run_in attacker 60 nmap -n -sS -T4 -p 1-1000 "$NET.10" >/dev/null
at 170; run_in attacker 60 nmap -n -sn "$NET.0/24" >/dev/null
at 190; run_in attacker 20 hping3 -q -S -p 80 -c 4000 -i u250 "$NET.10" >/dev/null 2>&1 || true
at 205; run_in attacker 20 hping3 -q --udp -p 5353 -c 4000 -i u250 -d 64 "$NET.10" >/dev/null 2>&1 || true
at 225; run_in c3 30 python3 scripts/lab.py upload "$NET.99" 9000 4194304
at 245; run_in c2 30 python3 scripts/lab.py dnsburst "$NET.10" 150 0.1
at 270
sleep 1

kill "${PIDS[0]}" 2>/dev/null || true
wait "${PIDS[0]}" 2>/dev/null || true
mv "$WORK/demo.pcap" "$OUT"
echo "record-demo: wrote $OUT ($(stat -c %s "$OUT") bytes)"
