#!/usr/bin/env bash
# The detection lab: benign load plus every attack the detectors claim to catch, in
# network namespaces on one bridge, captured live by ntop-rs; then a table of what
# was caught, how fast, and any false alert (scripts/lab_table.py).
#
#   sudo scripts/lab-detect.sh [NTOP_BINARY] [OUT_DIR]
#
# Needs root, nmap, hping3, curl, python3. Every traffic source is bounded in count and
# time and sends only to the lab's own addresses (10.88.0.0/24, and 10.99.0.0/24, which
# is routed to the lab's server and dropped there: the "dark" net that sweeps probe).
# Exit status: 0 when every attack was caught with the right kind and hosts, none later
# than 2 s after its first packet (the slow scan excepted: it is slow by design), none
# with more than 3 `new` reports, and nothing else raised an alert. The benign load
# includes full-speed bulk downloads and a multi-homed server (60 extra addresses).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/ntop-rs}
OUT=${2:-$(mktemp -d)}
mkdir -p "$OUT"
BIN=$(realpath "$BIN")

P=ntl$$
NET=10.88.0
declare -A HOSTS=([server]=10 [c1]=11 [c2]=12 [c3]=13 [attacker]=66 [prober]=67 [slow]=68 [multi]=69)
for v in $(seq 1 14); do HOSTS[v$v]=$((20 + v)); done
source scripts/lab-net.sh
lab_require lab-detect nmap hping3 curl python3 ip
# mark NAME COMMAND KIND SRC DST PROTO PORT: the attack starts now (wall clock, which a
# live capture's packet times follow).
mark() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date +%s.%N)" "$@" >> "$OUT/attacks.tsv"; }
lab_up
# The dark net: routed to the server, which does not forward.
ip -n "${P}attacker" route add 10.99.0.0/24 via "$NET.10"
: > "$OUT/attacks.tsv"

lab_servers server
# A multi-homed server: 60 more addresses (10.88.0.100-159) on one interface, each
# announced by gratuitous ARP, all served.
ip netns exec "${P}multi" sysctl -qw net.ipv4.conf.all.arp_notify=1 "net.ipv4.conf.vmulti.arp_notify=1"
for i in $(seq 100 159); do ip -n "${P}multi" addr add "$NET.$i/24" dev vmulti; done
bg_in multi python3 scripts/lab.py http 80 "$WORK/www-multi"
sleep 2
# The outlier detector is off here: this lab is for the rules, and its attacks fall in
# the outlier detector's learning time anyway (scripts/lab-outliers.sh is its own lab).
ip netns exec "${P}br" "$BIN" -i br0 -n --headless --json --duration 150 --no-outliers --alerts "$OUT/alerts.ndjson" \
    > "$OUT/summary.json" 2> "$OUT/ntop-rs.log" &
NTOP=$!
sleep 2
SECONDS=0

# Benign load for the whole run: page fetches, DNS, pings, a steady download, an
# interactive-looking session.
for c in c1 c2 c3; do
    bg_in "$c" timeout 140 python3 scripts/lab.py web "http://$NET.10/page$((RANDOM % 5)).html" 60 2
    bg_in "$c" timeout 140 python3 scripts/lab.py query "$NET.10" 90 1.5
done
bg_in c2 timeout 140 ping -q -c 70 -i 2 "$NET.10"
bg_in c1 timeout 140 bash -c "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do curl -s --limit-rate 300K -o /dev/null http://$NET.10/big.bin; done"
bg_in c3 timeout 140 python3 scripts/lab.py ssh "$NET.10" 22 130
# The multi-homed server's clients use many of its addresses, and it pings them back
# from several; bulk downloads at full speed now and then.
bg_in c1 timeout 140 bash -c "for i in \$(seq 100 2 159); do curl -s -o /dev/null http://$NET.\$i/page1.html; sleep 3; done"
bg_in multi timeout 140 bash -c "for i in \$(seq 100 5 159); do ping -q -c 1 -I $NET.\$i $NET.12 > /dev/null; sleep 7; done"
bg_in c2 timeout 140 bash -c "for i in 1 2 3 4 5 6; do sleep 17; curl -s -o /dev/null http://$NET.10/big.bin; done"

V() { echo "$NET.$((20 + $1))"; }
A=$NET.66
at 35
mark slow-scan "nmap -sS --scan-delay 6s -p 1-16" port_scan "$NET.68" "$(V 8)" tcp -
bg_in slow timeout 120 nmap -n -Pn -sS --scan-delay 6s --max-retries 0 -p 1-16 "$(V 8)" > /dev/null
# An IP protocol scan meanwhile, from another host: Linux answers it with a protocol
# unreachable about once a second, so the probes themselves must tell.
mark ip-protocol-scan "nmap -sO" port_scan "$NET.67" "$(V 14)" ip -
bg_in prober timeout 40 nmap -n -Pn -sO --max-retries 0 "$(V 14)" > /dev/null
scan() { # NAME FLAG VICTIM PROTO PORTS
    mark "$1" "nmap $2 -p $5" port_scan "$A" "$(V "$3")" "$4" -
    run_in attacker 40 nmap -n -Pn -T4 "$2" --max-retries 1 -p "$5" "$(V "$3")" > /dev/null || true
}
at 38; scan syn-scan -sS 1 tcp 1-1000
at 44; scan connect-scan -sT 2 tcp 1-1000
at 50; scan fin-scan -sF 4 tcp 1-1000
at 56; scan null-scan -sN 5 tcp 1-1000
at 62; scan xmas-scan -sX 6 tcp 1-1000
at 68; scan ack-scan -sA 7 tcp 1-1000
at 74; scan udp-scan -sU 3 udp 1-100
at 84
mark ping-sweep "nmap -sn -PE 10.99.0.1-60" host_sweep "$A" - icmp -
run_in attacker 30 nmap -n -sn -PE --max-retries 0 10.99.0.1-60 > /dev/null || true
at 90
mark port-sweep "nmap -sS -p 22 10.99.0.1-60" host_sweep "$A" - tcp 22
run_in attacker 30 nmap -n -Pn -sS --max-retries 0 -p 22 10.99.0.1-60 > /dev/null || true
flood() { # NAME KIND VICTIM PROTO SPOOFED HPING-ARGS...
    local name=$1 kind=$2 victim=$3 proto=$4 spoofed=$5; shift 5
    local src=$A
    [ "$spoofed" = yes ] && src=-
    mark "$name" "hping3 $* (6000 packets)" "$kind" "$src" "$(V "$victim")" "$proto" -
    run_in attacker 20 hping3 -q "$@" -c 6000 -i u100 "$(V "$victim")" > /dev/null 2>&1 || true
}
at 96;  flood syn-flood syn_flood 9 tcp no -S -p 80
at 100; flood udp-flood udp_flood 10 udp no --udp -p 5353
at 104; flood icmp-flood icmp_flood 11 icmp no --icmp
at 108; flood syn-flood-spoofed syn_flood 12 tcp yes -S -p 80 --rand-source
at 112; flood udp-flood-spoofed udp_flood 13 udp yes --udp -p 5353 --rand-source
at 116; flood icmp-flood-spoofed icmp_flood 14 icmp yes --icmp --rand-source
# A SYN flood from 90 spoofed addresses of the LAN's own range (10.88.0.160-249), 60 SYNs
# each, all at once.
at 120
mark syn-flood-lan-spoofed "hping3 -S -p 80 -a 10.88.0.160-249 (5400 packets)" syn_flood - "$(V 3)" tcp -
SPOOFERS=()
for s in $(seq 160 249); do
    run_in attacker 20 hping3 -q -S -p 80 -a "$NET.$s" -c 60 -i u1000 "$(V 3)" > /dev/null 2>&1 &
    SPOOFERS+=($!)
done
wait "${SPOOFERS[@]}" || true

wait "$NTOP" || { echo "lab-detect: ntop-rs failed:" >&2; cat "$OUT/ntop-rs.log" >&2; exit 1; }
python3 scripts/lab_table.py "$OUT/attacks.tsv" "$OUT/alerts.ndjson"
