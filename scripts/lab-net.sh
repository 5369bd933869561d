# Shared by the namespace labs (record-demo.sh, lab-detect.sh, lab-outliers.sh); source
# it, do not run it.
#
# Before sourcing: `P` (a namespace prefix), `NET` (the /24's first three octets) and the
# associative array `HOSTS` (name -> last octet). Provides `lab_up` (a bridge namespace
# "${P}br" with br0, one namespace per host on it, IPv6 off), `run_in NS SECS CMD...`
# (CMD inside a namespace, killed after SECS), `bg_in NS CMD...` (in the background,
# killed on exit), `at SECS` (sleep until SECS after the lab clock started),
# `lab_require NAME TOOL...` (one line and exit 1 unless root with every TOOL),
# `lab_install PKG...` (apt-installs the missing Debian packages),
# `lab_servers NS` (web on 80, DNS on 53, an SSH-like echo on 22 in NS, from lab.py),
# and a cleanup on exit that kills what bg_in started and deletes the namespaces.

PIDS=()
WORK=$(mktemp -d)

lab_cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for h in "${!HOSTS[@]}" br; do ip netns del "$P$h" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap lab_cleanup EXIT

lab_require() {
    local name=$1 tool
    shift
    [ "$(id -u)" -eq 0 ] || { echo "$name: needs root (network namespaces)" >&2; exit 1; }
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$name: $tool is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
    done
}

# lab_install PKG...: apt-installs the Debian packages that are missing.
lab_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

run_in() { local ns=$1 secs=$2; shift 2; timeout "$secs" ip netns exec "$P$ns" "$@"; }
# ip netns exec execs, so $! is the command itself.
bg_in() { local ns=$1; shift; ip netns exec "$P$ns" "$@" & PIDS+=($!); }
at() { sleep "$(( $1 - SECONDS ))" 2>/dev/null || true; }

# lab_up [offloads-off]: with "offloads-off", no segmentation offloads, so a capture shows
# wire-sized packets rather than 64 KB GSO ones.
lab_up() {
    ip netns add "${P}br"
    ip -n "${P}br" link add br0 type bridge
    ip -n "${P}br" link set br0 up
    ip netns exec "${P}br" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    local h
    for h in "${!HOSTS[@]}"; do
        ip netns add "$P$h"
        ip link add "v$h" netns "$P$h" type veth peer name "b$h" netns "${P}br"
        ip -n "${P}br" link set "b$h" master br0 up
        ip netns exec "$P$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        ip -n "$P$h" addr add "$NET.${HOSTS[$h]}/24" dev "v$h"
        ip -n "$P$h" link set "v$h" up
        ip -n "$P$h" link set lo up
        if [ "${1:-}" = offloads-off ]; then
            ip netns exec "$P$h" ethtool -K "v$h" tso off gso off gro off >/dev/null 2>&1 || true
            ip netns exec "${P}br" ethtool -K "b$h" tso off gso off gro off >/dev/null 2>&1 || true
        fi
    done
}

# lab_servers NS: the server side of the benign load (web, DNS, an SSH-like service).
lab_servers() {
    bg_in "$1" python3 scripts/lab.py http 80 "$WORK/www"
    bg_in "$1" python3 scripts/lab.py dns 53
    bg_in "$1" python3 scripts/lab.py echo 22
}
