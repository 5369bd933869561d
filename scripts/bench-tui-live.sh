#!/usr/bin/env bash
# The live cost of the TUI under a SYN flood, beside tcpdump, as root: a veth pair
# between two namespaces, `hping3 -S --flood` for SECS seconds from one into the other,
# captured first by `tcpdump -w /dev/null`, then by the ntop-rs TUI in a 120x40 tmux
# pane. While the flood runs, the TUI's `w` key dumps the visible window every half
# second (the packet ring is read while capture writes it). For each: CPU seconds per
# million packets captured (utime + stime from /proc), peak RSS (VmHWM), packets seen
# and dropped (tcpdump's own counts; the TUI's header).
#
#   sudo scripts/bench-tui-live.sh            # 8 s floods
#   sudo SECS=3 scripts/bench-tui-live.sh     # shorter
#   sudo DUMPS=0 scripts/bench-tui-live.sh    # no window dumps meanwhile
#
# Targets: the TUI at most 0.6 CPU-s per million packets and 120 MB peak RSS, and no
# more drops than tcpdump.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-tui-live: needs root (network namespaces)" >&2; exit 1; }
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet --bin ntop-rs
SECS=${SECS:-8}
DUMPS=${DUMPS:-1}
P=ntt$$
A="${P}a" B="${P}b"
SOCK="ntop-bench-$$"
WORK=$(mktemp -d)
cleanup() {
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
source scripts/veth-pair.sh
veth_pair "$A" "$B" 10.98.0
# The flood's target drops it quietly (no RSTs doubling the load).
ip netns exec "$B" iptables -A INPUT -p tcp --dport 80 -j DROP 2>/dev/null || true

flood() { timeout "$SECS" ip netns exec "$A" hping3 -q -S -p 80 --flood 10.98.0.2 >/dev/null 2>&1 || true; }

# cpu_and_rss PID -> "cpu_seconds peak_rss_kb"
cpu_and_rss() {
    local tick; tick=$(getconf CLK_TCK)
    awk -v t="$tick" '{ printf "%.2f ", ($14 + $15) / t }' "/proc/$1/stat"
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# tcpdump
ip netns exec "$B" tcpdump -i vb -B 16384 -nn -w /dev/null 2> "$WORK/tcpdump.err" &
TD=$!
sleep 1
flood
sleep 1
read -r td_cpu td_rss < <(cpu_and_rss "$TD")
kill -INT "$TD"; wait "$TD" 2>/dev/null || true
td_pkts=$(awk '/packets captured/ {print $1}' "$WORK/tcpdump.err")
td_drop=$(awk '/dropped by kernel/ {print $1}' "$WORK/tcpdump.err")

# the TUI
mkdir "$WORK/dumps"
tmux -L "$SOCK" new-session -d -s t -x 120 -y 40 \
    "ip netns exec $B ./target/release/ntop-rs -i vb -B 16 -n --dump-dir $WORK/dumps"
sleep 2
NT=$(tmux -L "$SOCK" list-panes -t t -F '#{pane_pid}')
flood &
FL=$!
end=$((SECONDS + SECS))
while [ "$SECONDS" -lt "$end" ]; do
    [ "$DUMPS" -eq 0 ] || tmux -L "$SOCK" send-keys -t t w
    sleep 0.5
done
wait "$FL" || true
sleep 1.5
screen=$(tmux -L "$SOCK" capture-pane -t t -p)
read -r nt_cpu nt_rss < <(cpu_and_rss "$NT")
# CPU seconds per thread, to see where the cost is.
threads=$(for t in /proc/"$NT"/task/*; do
    awk -v t="$(getconf CLK_TCK)" '{ gsub(/[()]/, "", $2); printf "%s %.2f (user %.2f)  ", $2, ($14 + $15) / t, $14 / t }' "$t/stat"
done)
tmux -L "$SOCK" send-keys -t t q
sleep 1
nt_pkts=$(grep -o 'total [0-9,]* pkts' <<<"$screen" | head -1 | tr -dc '0-9')
nt_drops=$(grep -o 'drops [0-9,/]*' <<<"$screen" | head -1 | sed 's/drops //' | tr '/' '\n' | tr -d ',' | awk '{ s += $1 } END { print s + 0 }')
echo "ntop-rs CPU seconds by thread: $threads"
dumps=$(find "$WORK/dumps" -name '*.pcap' | wc -l)

printf '%-28s %12s %10s %12s %10s\n' tool packets dropped "CPU-s/Mpkt" "peak RSS"
awk -v p="$td_pkts" -v d="$td_drop" -v c="$td_cpu" -v r="$td_rss" 'BEGIN { printf "%-28s %12d %10d %12.2f %7.0f MB\n", "tcpdump -w /dev/null", p, d, (p > 0 ? c / (p / 1e6) : 0), r / 1024 }'
awk -v p="$nt_pkts" -v d="$nt_drops" -v c="$nt_cpu" -v r="$nt_rss" 'BEGIN { printf "%-28s %12d %10d %12.2f %7.0f MB\n", "ntop-rs TUI (120x40)", p, d, (p > 0 ? c / (p / 1e6) : 0), r / 1024 }'
echo "window dumps written while capturing: $dumps"
awk -v p="$nt_pkts" -v c="$nt_cpu" -v r="$nt_rss" -v d="$nt_drops" -v td="$td_drop" 'BEGIN {
    cpm = (p > 0 ? c / (p / 1e6) : 99);
    printf "target: TUI <= 0.6 CPU-s per million packets ... %s (%.2f)\n", cpm <= 0.6 ? "met" : "MISSED", cpm;
    printf "target: TUI peak RSS <= 120 MB ................ %s (%.0f MB)\n", r / 1024 <= 120 ? "met" : "MISSED", r / 1024;
    printf "target: no more drops than tcpdump ............ %s (%d vs %d)\n", d <= td ? "met" : "MISSED", d, td;
}'
