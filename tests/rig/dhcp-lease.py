#!/usr/bin/env python3
"""Take a real DHCP lease from a libvirt network's dnsmasq for a MAC address.

    dhcp-lease.py <interface> <mac>

Run inside a network namespace whose <interface> is plugged (a veth) into
the network's bridge, with no address of its own. Sends DISCOVER, takes the
OFFER, sends REQUEST, waits for the ACK, and prints the leased address. The
broadcast flag is set, so the answers come back whatever the MAC: the
lease can be taken for a guest's NIC (the test guest asks for none).
"""
import os
import random
import socket
import struct
import sys

DISCOVER, OFFER, REQUEST, ACK = 1, 2, 3, 5


def packet(xid, mac, kind, extra=b""):
    head = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1, 1, 6, 0, xid, 0, 0x8000,
        bytes(4), bytes(4), bytes(4), bytes(4),
        mac + bytes(10), bytes(64), bytes(128),
    )
    return head + bytes([99, 130, 83, 99, 53, 1, kind]) + extra + b"\xff"


def options(data):
    """The DHCP options of a reply, by code."""
    out, i = {}, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        code, length = data[i], data[i + 1]
        out[code] = data[i + 2:i + 2 + length]
        i += 2 + length
    return out


def exchange(sock, xid, request, kind):
    """Send `request` until the answer of `kind` comes (as a client does:
    a bridge port still in STP's listening state drops the first tries)."""
    for _ in range(15):
        sock.sendto(request, ("255.255.255.255", 67))
        sock.settimeout(2)
        try:
            while True:
                data = sock.recv(2048)
                if len(data) > 240 and struct.unpack("!I", data[4:8])[0] == xid:
                    opts = options(data)
                    if opts.get(53) == bytes([kind]):
                        return data[16:20], opts
        except socket.timeout:
            continue
    sys.exit(f"dhcp-lease: no answer of type {kind} in 30 s")


def main():
    ifname, mac_text = sys.argv[1], sys.argv[2]
    mac = bytes.fromhex(mac_text.replace(":", ""))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    sock.bind(("0.0.0.0", 68))
    xid = random.getrandbits(32)
    offered, opts = exchange(sock, xid, packet(xid, mac, DISCOVER), OFFER)
    extra = bytes([50, 4]) + offered + bytes([54, 4]) + opts[54]
    leased, _ = exchange(sock, xid, packet(xid, mac, REQUEST, extra), ACK)
    print(socket.inet_ntoa(leased))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
