#!/usr/bin/env bash
# Prove a port forward with traffic, from inside a host's network namespace
# (the sandbox's, through tests/rig/sandbox-shell, or the guest VM's own):
#   forward-traffic.sh <libvirt network> <guest address> <host port>
# A "guest" namespace plugged into the network's bridge at <guest address>
# serves a page on port 80; a "client" namespace on a link of its own to
# the host (10.96.0.1/24 on the host's side) fetches http://10.96.0.1:<host
# port>/. Prints the page the client got; everything made is removed again.
set -euo pipefail
net=$1 guest_ip=$2 port=$3
pre=${KVMNET_NS:-kvmnet}-fwd
web=$pre-web client=$pre-cli
server=
bridge=$(virsh net-info "$net" | awk '/^Bridge:/ {print $2}')
[ -n "$bridge" ] || { echo "forward-traffic: network $net has no bridge" >&2; exit 1; }
# The bridge's address gives the guest its gateway and prefix.
read -r gw prefix < <(ip -o -4 addr show "$bridge" | awk '{split($4, a, "/"); print a[1], a[2]; exit}')

cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  ip netns del "$web" 2>/dev/null || true
  ip netns del "$client" 2>/dev/null || true
  ip link del fwdw0 2>/dev/null || true
  ip link del fwdc0 2>/dev/null || true
  [ -z "$www" ] || rm -rf "$www"
}
www=
trap cleanup EXIT
cleanup # leftovers of an interrupted run
www=$(mktemp -d)

ip netns add "$web"
ip link add fwdw0 type veth peer name eth0 netns "$web"
ip -n "$web" addr add "$guest_ip/$prefix" dev eth0
ip -n "$web" link set eth0 up
ip -n "$web" link set lo up
ip -n "$web" route add default via "$gw"
ip link set fwdw0 master "$bridge" up

ip netns add "$client"
ip link add fwdc0 type veth peer name eth0 netns "$client"
ip addr add 10.96.0.1/24 dev fwdc0
ip link set fwdc0 up
ip -n "$client" addr add 10.96.0.2/24 dev eth0
ip -n "$client" link set eth0 up
ip -n "$client" route add default via 10.96.0.1

echo "hello from the guest" >"$www/index.html"
ip netns exec "$web" python3 -m http.server 80 --bind "$guest_ip" --directory "$www" >/dev/null 2>&1 &
server=$!

fetch() {
  ip netns exec "$1" python3 -c \
    "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode(), end='')" "$2" 2>/dev/null
}
# The bridge's STP lets the new port forward after listening and learning.
for _ in $(seq 150); do
  bridge link show dev fwdw0 | grep -q 'state forwarding' && fetch "$web" "http://$guest_ip/" >/dev/null && break
  sleep 0.2
done
# A first SYN can meet a neighbour entry still resolving: three tries.
for _ in 1 2 3; do
  if page=$(fetch "$client" "http://10.96.0.1:$port/"); then
    printf '%s' "$page"
    exit 0
  fi
  sleep 0.5
done
echo "forward-traffic: the client did not reach http://10.96.0.1:$port/ (guest $guest_ip on $bridge)" >&2
exit 1
