"""Forwarding: byte-for-byte output, longest-prefix match, connected vs via
routes, TTL and hop limit, Ethernet padding, several workers."""
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
from scapy.layers.l2 import Ether
from scapy.packet import Padding, Raw

from net import CONFIG, HOST, R2, R3, R4, forwarded


def v4(mac, src, dst, size=0, ttl=64, **kw):
    return Ether(src=HOST, dst=mac) / IP(src=src, dst=dst, ttl=ttl, **kw) / \
        UDP(sport=1234, dport=5678) / Raw(bytes(range(256)) * (size // 256) + bytes(size % 256))


def v6(mac, src, dst, size=0, hlim=64):
    return Ether(src=HOST, dst=mac) / IPv6(src=src, dst=dst, hlim=hlim) / \
        UDP(sport=1234, dport=5678) / Raw(bytes(size))


def assert_same(got, want):
    assert [bytes(p) for p in got] == want


def by_family(pkts):
    """A burst is classified into IPv4 and IPv6 before it is routed, so the
    two families may leave in another interleaving; within each family (and
    so within every flow) the order is kept."""
    raw = [bytes(p) for p in pkts]
    return ([b for b in raw if b[12:14] == b"\x08\x00"], [b for b in raw if b[12:14] == b"\x86\xdd"])


def test_ipv4_lan_to_wan_byte_for_byte(gateway, macs):
    wan, lan = macs[0], macs[1]
    pkts = [v4(lan, "10.100.0.10", "203.0.113.%d" % i, size=i * 97) for i in range(1, 15)]
    pkts.append(Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="203.0.113.9", tos=0xb8, id=77,
                                             flags="DF") / TCP(sport=5, dport=80, flags="PA") / Raw(b"x" * 100))
    pkts.append(Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="203.0.113.9",
                                             options=b"\x01\x01\x01\x00") / ICMP())
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert_same(r.out["wan0"], [forwarded(p, wan, R2) for p in pkts])
    assert r.out["lan0"] == []
    assert r.out["wan0"][-1][IP].ihl == 6, "IPv4 options survive"
    lan0, wan0 = r.port("lan0"), r.port("wan0")
    assert lan0["rx_packets"] == len(pkts) and wan0["tx_packets"] == len(pkts)
    assert lan0["rx_bytes"] == sum(len(p) for p in pkts) == wan0["tx_bytes"]
    r.assert_only_drop(None, 0, None)


def test_ipv4_wan_to_lan_connected(gateway, macs):
    wan, lan = macs[0], macs[1]
    pkts = [Ether(src=R2, dst=wan) / IP(src="198.51.100.%d" % i, dst="10.100.0.10") /
            TCP(sport=443, dport=40000 + i, flags="SA") for i in range(20)]
    r = gateway.run(CONFIG, {"wan0": pkts})
    assert_same(r.out["lan0"], [forwarded(p, lan, HOST) for p in pkts])
    assert r.stats["totals"]["dropped"] == 0


def test_ipv6_both_directions(gateway, macs):
    wan, lan = macs[0], macs[1]
    out = [v6(lan, "fd00:100::10", "2001:db8:ffff::%x" % i, size=i * 50) for i in range(1, 12)]
    out.append(Ether(src=HOST, dst=lan) / IPv6(src="fd00:100::10", dst="2001:db8:ffff::1") /
               ICMPv6EchoRequest(id=1, seq=2))
    back = [Ether(src=R2, dst=wan) / IPv6(src="2001:db8:ffff::1", dst="fd00:100::10", hlim=2) /
            UDP(sport=9, dport=10) for _ in range(5)]
    r = gateway.run(CONFIG, {"lan0": out, "wan0": back})
    assert_same(r.out["wan0"], [forwarded(p, wan, R2) for p in out])
    assert_same(r.out["lan0"], [forwarded(p, lan, HOST) for p in back])
    assert all(p[IPv6].hlim == 1 for p in r.out["lan0"])
    assert r.stats["totals"]["dropped"] == 0


@pytest.mark.parametrize("dst,port,mac", [
    ("8.8.8.8", "wan0", R2),          # 0/0
    ("10.9.9.9", "wan0", R3),         # 10/8
    ("10.1.9.9", "wan0", R4),         # 10.1/16
    ("10.1.2.9", "lan0", HOST),       # 10.1.2/24 via a LAN host
    ("10.1.2.3", "wan0", R2),         # /32
    ("10.100.0.10", "lan0", HOST),    # connected 10.100.0/24 beats 10/8
])
def test_ipv4_longest_prefix_match(gateway, macs, dst, port, mac):
    src_port = "lan0" if port == "wan0" else "wan0"
    src_mac = macs[1] if src_port == "lan0" else macs[0]
    p = v4(src_mac, "10.100.0.20" if src_port == "lan0" else "203.0.113.1", dst)
    r = gateway.run(CONFIG, {src_port: [p]})
    out_mac = macs[0] if port == "wan0" else macs[1]
    assert_same(r.out[port], [forwarded(p, out_mac, mac)])
    assert r.out[src_port] == []


def test_lpm_many_in_one_burst(gateway, macs):
    """Every prefix length at once, in one burst, interleaved with IPv6."""
    wan, lan = macs[0], macs[1]
    cases = [("8.8.8.8", R2), ("10.9.9.9", R3), ("10.1.9.9", R4), ("10.1.2.3", R2)] * 8
    v6cases = [("2001:db8:bb::1", R3), ("2001:db8:bb:cc::1", R2), ("2001:db9::1", R2)] * 4
    pkts, want = [], []
    for i, (dst, mac) in enumerate(cases):
        p = v4(lan, "10.100.0.20", dst, size=i)
        pkts.append(p)
        want.append(forwarded(p, wan, mac))
        if i < len(v6cases):
            q = v6(lan, "fd00:100::20", v6cases[i][0], size=i)
            pkts.append(q)
            want.append(forwarded(q, wan, v6cases[i][1]))
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert by_family(r.out["wan0"]) == by_family(want)


def test_ipv6_more_specific_into_lan(gateway, macs):
    wan, lan = macs[0], macs[1]
    p = v6(wan, "2001:db8:ffff::1", "2001:db8:aa::5")
    r = gateway.run(CONFIG, {"wan0": [p]})
    assert_same(r.out["lan0"], [forwarded(p, lan, HOST)])


def test_connected_route_needs_the_destination_as_neighbor(gateway, macs):
    """An on-link route (no via): the destination itself is the neighbor."""
    wan, lan = macs[0], macs[1]
    cfg = CONFIG.replace("neighbors:\n", 'neighbors:\n  - { address: 198.18.0.5, lladdr: "02:00:00:00:05:05", dev: lan0 }\n')
    cfg = cfg.replace("lan0: { port: 1, address: [10.100.0.1/24,",
                      "lan0: { port: 1, address: [10.100.0.1/24, 198.18.0.1/15,")
    hit = v4(wan, "203.0.113.1", "198.18.0.5")
    miss = v4(wan, "203.0.113.1", "198.18.0.6")
    r = gateway.run(cfg, {"wan0": [hit, miss]})
    assert_same(r.out["lan0"], [forwarded(hit, lan, "02:00:00:00:05:05")])
    r.assert_only_drop("no-neighbor", 1, "wan0")


def test_ttl_and_hop_limit(gateway, macs):
    wan, lan = macs[0], macs[1]
    ok4 = v4(lan, "10.100.0.10", "8.8.8.8", ttl=2)
    ok6 = v6(lan, "fd00:100::10", "2001:db9::1", hlim=2)
    dead = [v4(lan, "10.100.0.10", "8.8.8.8", ttl=1), v4(lan, "10.100.0.10", "8.8.8.8", ttl=0),
            v6(lan, "fd00:100::10", "2001:db9::1", hlim=1), v6(lan, "fd00:100::10", "2001:db9::1", hlim=0)]
    r = gateway.run(CONFIG, {"lan0": [ok4] + dead + [ok6]})
    assert by_family(r.out["wan0"]) == by_family([forwarded(ok4, wan, R2), forwarded(ok6, wan, R2)])
    r.assert_only_drop("ttl-exceeded", 4, "lan0")


def test_ethernet_padding_is_trimmed(gateway, macs):
    wan, lan = macs[0], macs[1]
    p = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8") / ICMP()
    padded = Ether(bytes(p) + bytes(60 - len(p)))
    assert len(padded) == 60 and Padding in padded
    p6 = v6(lan, "fd00:100::10", "2001:db9::1")
    padded6 = Ether(bytes(p6) + b"\xaa" * 10)
    r = gateway.run(CONFIG, {"lan0": [padded, padded6]})
    assert by_family(r.out["wan0"]) == by_family([forwarded(p, wan, R2), forwarded(p6, wan, R2)])
    assert len(by_family(r.out["wan0"])[0][0]) == 14 + 28
    assert r.port("lan0")["rx_bytes"] == 60 + len(padded6)


def test_broadcast_mac_is_accepted(gateway, macs):
    wan = macs[0]
    p = Ether(src=HOST, dst="ff:ff:ff:ff:ff:ff") / IP(src="10.100.0.10", dst="8.8.8.8") / ICMP()
    r = gateway.run(CONFIG, {"lan0": [p]})
    assert_same(r.out["wan0"], [forwarded(p, wan, R2)])


@pytest.mark.parametrize("lcores", ["0-1", "0@0,1@1,2@1"], ids=["1-worker", "2-workers"])
def test_mixed_traffic_adds_up(gateway, macs, lcores):
    """Hundreds of packets of every kind, both ports at once: every packet is
    either sent or dropped under a reason, and the reasons add up."""
    wan, lan = macs[0], macs[1]
    good_l, good_w, bad = [], [], 0
    for i in range(300):
        good_l.append(v4(lan, "10.100.0.10", "203.0.113.%d" % (i % 250 + 1), size=i))
        good_w.append(v6(wan, "2001:db8:ffff::1", "fd00:100::10", size=i))
    junk = [Ether(src=HOST, dst=lan, type=0x88b5) / Raw(b"x" * 50)] * 40 + \
           [v4(lan, "10.100.0.10", "172.16.0.1")] * 30 + \
           [v4(lan, "10.100.0.10", "8.8.8.8", ttl=1)] * 20
    bad = len(junk)
    lan_in = [p for pair in zip(good_l, junk + good_l[:0]) for p in pair] + good_l[len(junk):]
    r = gateway.run(CONFIG, {"lan0": lan_in, "wan0": good_w}, lcores=lcores)
    assert_same(r.out["wan0"], [forwarded(p, wan, R2) for p in good_l])
    # the TTL-expired ones are answered (ICMP time exceeded from lan0's address)
    mine = [p for p in r.out["lan0"] if IP in p and p[IP].src == "10.100.0.1"]
    assert len(mine) == 20 and all(p[ICMP].type == 11 for p in mine)
    assert_same([p for p in r.out["lan0"] if p not in mine],
                [forwarded(p, lan, HOST) for p in good_w])
    t = r.stats["totals"]
    assert t["rx_packets"] == len(lan_in) + len(good_w)
    assert t["rx_packets"] == t["tx_packets"] + t["dropped"]
    assert t["dropped"] == bad
    assert r.stats["drops"]["not-ip"] == 40
    # 8 wait for the neighbor (and are dropped when the gateway stops); the
    # rest find the queue full
    d = r.stats["drops"]
    assert d["no-neighbor"] == 8 and d["hold-full"] == 22
    assert r.stats["drops"]["ttl-exceeded"] == 20
    assert sum(r.stats["drops"].values()) == bad
