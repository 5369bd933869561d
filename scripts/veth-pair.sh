# Shared by bench-live.sh and bench-tui-live.sh; source it, do not run it.
# veth_pair NS_A NS_B NET: two namespaces joined by a veth pair, va (NET.1) in NS_A and
# vb (NET.2) in NS_B, up, IPv6 off. The caller deletes the namespaces.
veth_pair() {
    local a=$1 b=$2 net=$3 ns
    ip netns add "$a"
    ip netns add "$b"
    ip link add va netns "$a" type veth peer name vb netns "$b"
    for ns in "$a" "$b"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
    ip -n "$a" addr add "$net.1/24" dev va
    ip -n "$b" addr add "$net.2/24" dev vb
    ip -n "$a" link set va up
    ip -n "$b" link set vb up
}
