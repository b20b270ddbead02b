"""Longest-prefix match at every depth that matters to the IPv4 table
(DIR-24-8, route.c) and rte_lpm6.

A table of nested prefixes (IPv4 /0 to /32, across the tbl24 / tbl8 boundary;
IPv6 /0 to /128, on and off byte boundaries) sends each prefix
to its own next hop, some of them on a third port.  Every probe address (the
first and last address of each prefix and the ones just outside it) is sent
in one run, and where each one lands is computed by a plain reference model
(Python's ipaddress), not by hand.  The table is given once most specific
first and once least specific first: the order of the file must not matter.
"""
import ipaddress

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from net import forwarded

LAN_HOST = "02:00:00:00:01:10"

# port name -> (port id, addresses); lan0 is where the probes come from
PORTS = {
    "wan0": (0, ["192.168.0.1/24", "fd00:ffff::1/64"]),
    "lan0": (1, ["10.100.0.1/24", "fd00:100::1/64"]),
    "dmz0": (2, ["172.31.0.1/24", "fd00:dd::1/64"]),
}

# (prefix, next hop): every next hop is a neighbor with its own MAC
V4_ROUTES = [
    ("0.0.0.0/0", "192.168.0.10"),
    ("0.0.0.0/2", "192.168.0.11"),
    ("128.0.0.0/1", "192.168.0.12"),
    ("20.0.0.0/8", "192.168.0.13"),
    ("20.16.0.0/12", "192.168.0.14"),
    ("20.20.0.0/16", "172.31.0.15"),
    ("20.20.16.0/20", "192.168.0.16"),
    ("20.20.20.0/23", "192.168.0.17"),
    ("20.20.20.0/24", "192.168.0.18"),
    ("20.20.20.128/25", "172.31.0.19"),
    ("20.20.20.192/26", "192.168.0.20"),
    ("20.20.20.64/27", "192.168.0.21"),
    ("20.20.20.252/30", "192.168.0.22"),
    ("20.20.20.254/31", "172.31.0.23"),
    ("20.20.20.255/32", "192.168.0.24"),
    ("20.20.20.7/32", "192.168.0.25"),
    ("20.20.21.0/25", "192.168.0.26"),
    ("200.1.0.0/16", "172.31.0.27"),
    ("200.1.255.255/32", "192.168.0.28"),
]

V6_ROUTES = [
    ("::/0", "fd00:ffff::10"),
    ("2000::/3", "fd00:ffff::11"),
    ("2001:db8::/32", "fd00:ffff::12"),
    ("2001:db8:1::/48", "fd00:dd::13"),
    ("2001:db8:1::/55", "fd00:ffff::14"),
    ("2001:db8:1::/56", "fd00:ffff::15"),
    ("2001:db8:1:2::/63", "fd00:ffff::16"),
    ("2001:db8:1:2::/64", "fd00:dd::17"),
    ("2001:db8:1:2::/65", "fd00:ffff::18"),
    ("2001:db8:1:2:c000::/66", "fd00:ffff::19"),
    ("2001:db8:1:2:3::/80", "fd00:ffff::1a"),
    ("2001:db8:1:2:3:4::/96", "fd00:ffff::1b"),
    ("2001:db8:1:2:3:4:5:0/112", "fd00:dd::1c"),
    ("2001:db8:1:2:3:4:5:100/120", "fd00:ffff::1d"),
    ("2001:db8:1:2:3:4:5:110/124", "fd00:ffff::1e"),
    ("2001:db8:1:2:3:4:5:11e/127", "fd00:ffff::1f"),
    ("2001:db8:1:2:3:4:5:11f/128", "fd00:ffff::20"),
    ("2001:db8:1:2:3:4:5:1/128", "fd00:dd::21"),
    ("3fff:ffff::/32", "fd00:ffff::22"),
]


def mac_of(nexthop):
    """A distinct MAC per next hop, derived from its address."""
    b = ipaddress.ip_address(nexthop).packed
    return "02:%02x:%02x:%02x:%02x:%02x" % (4 if len(b) == 4 else 6, b[-4], b[-3], b[-2], b[-1])


def port_of(nexthop):
    a = ipaddress.ip_address(nexthop)
    for name, (_, addrs) in PORTS.items():
        if any(a in ipaddress.ip_interface(x).network for x in addrs):
            return name
    raise AssertionError(nexthop)


def config(reverse):
    routes = V4_ROUTES + V6_ROUTES
    routes = sorted(routes, key=lambda r: ipaddress.ip_network(r[0]).prefixlen, reverse=reverse)
    lines = ["ports:"]
    for name, (pid, addrs) in PORTS.items():
        lines.append(f"  {name}: {{ port: {pid}, address: [{', '.join(repr(a) for a in addrs)}] }}")
    lines.append("neighbors:")
    for _, nh in V4_ROUTES + V6_ROUTES:
        lines.append(f'  - {{ address: "{nh}", lladdr: "{mac_of(nh)}", dev: {port_of(nh)} }}')
    lines.append("routes:")
    for prefix, nh in routes:
        lines.append(f'  - {{ prefix: "{prefix}", via: "{nh}", dev: {port_of(nh)} }}')
    return "\n".join(lines) + "\n"


def lookup(routes, dst):
    """The reference: the longest prefix holding dst."""
    a = ipaddress.ip_address(dst)
    best = None
    for prefix, nh in routes:
        n = ipaddress.ip_network(prefix)
        if a in n and (best is None or n.prefixlen > best[0].prefixlen):
            best = (n, nh)
    return best[1]


def never_forwarded(a):
    """Destinations the gateway never routes (martian, multicast, its own
    connected networks) are left out of the probes."""
    if a.version == 4:
        special = ["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/3"]
    else:
        special = ["::/127", "ff00::/8", "fe80::/10"]
    special += [str(ipaddress.ip_interface(x).network) for _, addrs in PORTS.values() for x in addrs]
    return any(a in ipaddress.ip_network(s) for s in special if ipaddress.ip_network(s).version == a.version)


def probes(routes):
    out = []
    for prefix, _ in routes:
        n = ipaddress.ip_network(prefix)
        top = 2 ** n.max_prefixlen - 1
        for v in (int(n.network_address) - 1, int(n.network_address), int(n.network_address) + 1,
                  int(n.broadcast_address) - 1, int(n.broadcast_address), int(n.broadcast_address) + 1):
            if 0 <= v <= top:
                a = ipaddress.IPv4Address(v) if n.version == 4 else ipaddress.IPv6Address(v)
                if not never_forwarded(a) and str(a) not in out:
                    out.append(str(a))
    return out


def test_reference_model_probes_every_route():
    """Every route is the answer for at least one probe (else the table
    above tests less than it claims)."""
    for routes in (V4_ROUTES, V6_ROUTES):
        hit = {lookup(routes, a) for a in probes(routes)}
        assert hit == {nh for _, nh in routes}


@pytest.mark.parametrize("reverse", [False, True], ids=["least-specific-first", "most-specific-first"])
def test_every_depth(gateway, macs, reverse):
    lan = macs[1]
    pkts, want = [], {"wan0": ([], []), "dmz0": ([], [])}
    for i, dst in enumerate(probes(V4_ROUTES)):
        p = Ether(src=LAN_HOST, dst=lan) / IP(src="10.100.0.10", dst=dst, id=i) / \
            UDP(sport=1000 + i, dport=53) / Raw(b"v4 probe")
        nh = lookup(V4_ROUTES, dst)
        pkts.append(p)
        want[port_of(nh)][0].append(forwarded(p, macs[PORTS[port_of(nh)][0]], mac_of(nh)))
    for i, dst in enumerate(probes(V6_ROUTES)):
        p = Ether(src=LAN_HOST, dst=lan) / IPv6(src="fd00:100::10", dst=dst) / \
            UDP(sport=1000 + i, dport=53) / Raw(b"v6 probe")
        nh = lookup(V6_ROUTES, dst)
        pkts.append(p)
        want[port_of(nh)][1].append(forwarded(p, macs[PORTS[port_of(nh)][0]], mac_of(nh)))
    r = gateway.run(config(reverse), {"lan0": pkts}, ports=("wan0", "lan0", "dmz0"))
    for port in ("wan0", "dmz0"):
        got = [bytes(p) for p in r.out[port]]
        got4 = [b for b in got if b[12:14] == b"\x08\x00"]
        got6 = [b for b in got if b[12:14] == b"\x86\xdd"]
        assert len(got4) + len(got6) == len(got)
        for fam, g, w in (("IPv4", got4, want[port][0]), ("IPv6", got6, want[port][1])):
            if g != w:
                wrong = [f"{Ether(x)[1].dst} -> {Ether(x).dst} (expected {Ether(y).dst})"
                         for x, y in zip(g, w) if x != y]
                pytest.fail(f"{port} {fam}: {len(g)} packets, expected {len(w)}; first differences: {wrong[:10]}")
    assert r.out["lan0"] == []
    assert r.stats["totals"]["dropped"] == 0, r.stats["drops"]
    assert r.stats["totals"]["tx_packets"] == len(pkts)
