"""Every packet the gateway cannot forward is dropped, counted under its
reason on the port it came in on, and nothing of it leaves any port."""
import struct

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from net import CONFIG, HOST, R2


def eth(mac):
    return Ether(src=HOST, dst=mac)


def ip4(mac, src="10.100.0.10", dst="8.8.8.8", **kw):
    return eth(mac) / IP(src=src, dst=dst, **kw) / UDP(sport=1, dport=2) / Raw(b"payload!" * 4)


def ip6(mac, src="fd00:100::10", dst="2001:db9::1", **kw):
    return eth(mac) / IPv6(src=src, dst=dst, **kw) / UDP(sport=1, dport=2) / Raw(b"payload!" * 4)


def raw(pkt, fix):
    """Bytes of pkt with fix(bytearray) applied (header offsets from 14)."""
    b = bytearray(bytes(pkt))
    fix(b)
    return Ether(bytes(b))


def set_v4_checksum(b):
    b[24:26] = b"\0\0"
    s = sum(struct.unpack("!%dH" % ((b[14] & 0xf) * 2), bytes(b[14:14 + (b[14] & 0xf) * 4])))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    b[24:26] = struct.pack("!H", ~s & 0xffff)


def v4_field(off, value, fix_checksum=True):
    def fix(b):
        b[14 + off] = value
        if fix_checksum:
            set_v4_checksum(b)
    return fix


def v4_len(value):
    def fix(b):
        b[16:18] = struct.pack("!H", value)
        set_v4_checksum(b)
    return fix


# (id, builder(mac) -> packets, reason).  Each is sent on lan0.
CASES = [
    ("runt", lambda m: [Raw(bytes(eth(m))[:13])], "not-ip"),
    ("arp-for-another", lambda m: [Ether(src=HOST, dst="ff:ff:ff:ff:ff:ff") /
                                   ARP(psrc="10.100.0.10", pdst="10.100.0.77")], "arp-other"),
    ("unknown-ethertype", lambda m: [eth(m) / Raw(b"\x88\xb5" + b"z" * 40)], "not-ip"),
    ("vlan-tagged", lambda m: [Ether(bytes(eth(m))[:12] + b"\x81\x00\x00\x05" + bytes(ip4(m))[12:])], "not-ip"),
    ("ethernet-only-v4", lambda m: [Ether(bytes(eth(m) / IP())[:14])], "bad-header"),
    ("v4-header-cut", lambda m: [Ether(bytes(ip4(m))[:14 + 19])], "bad-header"),
    ("v4-bad-version", lambda m: [raw(ip4(m), v4_field(0, 0x65))], "bad-header"),
    ("v4-ihl-4", lambda m: [raw(ip4(m), v4_field(0, 0x44))], "bad-header"),
    ("v4-ihl-beyond-frame", lambda m: [Ether(bytes(eth(m) / IP(src="10.100.0.10", dst="8.8.8.8",
                                                              ihl=15, len=60)))], "bad-header"),
    ("v4-length-longer-than-frame", lambda m: [raw(ip4(m), v4_len(200))], "bad-header"),
    ("v4-length-shorter-than-header", lambda m: [raw(ip4(m), v4_len(12))], "bad-header"),
    ("v4-bad-checksum", lambda m: [ip4(m, chksum=0xbeef)], "bad-checksum"),
    ("v6-header-cut", lambda m: [Ether(bytes(ip6(m))[:14 + 39])], "bad-header"),
    ("v6-bad-version", lambda m: [Ether(bytes(ip6(m))[:14] + b"\x40" + bytes(ip6(m))[15:])], "bad-header"),
    ("v6-payload-longer-than-frame", lambda m: [ip6(m, plen=500)], "bad-header"),
    ("v6-short-payload", lambda m: [Ether(bytes(ip6(m))[:-10])], "bad-header"),
    ("other-host", lambda m: [ip4("02:99:99:99:99:99")], "other-host"),
    ("v4-src-loopback", lambda m: [ip4(m, src="127.0.0.1")], "martian"),
    ("v4-src-zero", lambda m: [ip4(m, src="0.0.0.0")], "martian"),
    ("v4-src-multicast", lambda m: [ip4(m, src="224.0.0.5")], "martian"),
    ("v4-src-broadcast", lambda m: [ip4(m, src="255.255.255.255")], "martian"),
    ("v4-dst-loopback", lambda m: [ip4(m, dst="127.0.0.1")], "martian"),
    ("v6-src-multicast", lambda m: [ip6(m, src="ff02::1")], "martian"),
    ("v6-src-unspecified", lambda m: [ip6(m, src="::")], "martian"),
    ("v6-src-loopback", lambda m: [ip6(m, src="::1")], "martian"),
    ("v6-link-local", lambda m: [ip6(m, src="fe80::1"), ip6(m, dst="fe80::2")], "martian"),
    ("v4-dst-multicast", lambda m: [ip4(m, dst="239.1.1.1"), ip4(m, dst="255.255.255.255")], "multicast"),
    ("v6-dst-multicast", lambda m: [ip6(m, dst="ff0e::1")], "multicast"),
    ("no-neighbor", lambda m: [ip4(m, dst="172.16.5.5"), ip4(m, dst="10.100.0.99")], "no-neighbor"),
    ("v6-no-neighbor", lambda m: [ip6(m, dst="fd00:100::99")], "no-neighbor"),
    ("ttl", lambda m: [ip4(m, ttl=1), ip4(m, ttl=0)], "ttl-exceeded"),
    ("hop-limit", lambda m: [ip6(m, hlim=1)], "ttl-exceeded"),
    ("local-v4", lambda m: [ip4(m, dst="10.100.0.1"), ip4(m, dst="192.168.0.1")], "local"),
    ("local-v6", lambda m: [ip6(m, dst="fd00:100::1"), ip6(m, dst="2001:db8::1")], "local"),
]


# The drops that make the gateway answer the sender with ICMP: (type, code).
ICMP_FOR = {"ttl": (11, 0), "hop-limit": (3, 0), "local-v4": (3, 3), "local-v6": (1, 4)}


@pytest.mark.parametrize("build,reason,case", [(c[1], c[2], c[0]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_dropped_and_counted(gateway, macs, build, reason, case):
    """Nothing is forwarded (tx_packets counts forwarded packets; the
    gateway's own frames are tx_local): what is sent is announcements, ARP
    for a missing neighbor, and ICMP to the sender where one is due (time
    exceeded, port unreachable)."""
    pkts = build(macs[1])
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert r.out["wan0"] == [], "nothing may be forwarded"
    if case in ICMP_FOR:
        assert len(r.out["lan0"]) == len(pkts)
        for p in r.out["lan0"]:
            icmp = p.getlayer(2)                      # Ether / IP / ICMP
            assert p[Ether].dst == HOST and (icmp.type, icmp.code) == ICMP_FOR[case]
    else:
        assert r.out["lan0"] == []
    r.assert_only_drop(reason, len(pkts), "lan0")
    assert r.port("lan0")["rx_packets"] == len(pkts)
    assert r.port("lan0")["dropped"] == len(pkts)
    assert r.stats["totals"]["tx_packets"] == 0


def test_no_route(gateway, macs):
    """Without a default route, an unknown destination has no route."""
    cfg = "\n".join(line for line in CONFIG.splitlines()
                    if "0.0.0.0/0" not in line and '"::/0"' not in line)
    pkts = [ip4(macs[1], dst="8.8.8.8"), ip6(macs[1], dst="2001:db9::1")]
    r = gateway.run(cfg, {"lan0": pkts})
    assert r.out["wan0"] == []
    r.assert_only_drop("no-route", 2, "lan0")


def test_mtu(gateway, macs):
    """A packet larger than the output port's MTU is not sent as it is:
    IPv4 without DF is fragmented, IPv4 with DF and IPv6 are dropped (and
    answered with ICMP too big: test_local.py); one that fits exactly is
    sent whole."""
    cfg = CONFIG.replace('wan0: { port: 0, address: [192.168.0.1/24, "2001:db8::1/64"] }',
                         'wan0: { port: 0, address: [192.168.0.1/24, "2001:db8::1/64"], mtu: 1280 }')
    fits = eth(macs[1]) / IP(src="10.100.0.10", dst="8.8.8.8") / Raw(bytes(1280 - 20))
    big = eth(macs[1]) / IP(src="10.100.0.10", dst="8.8.8.8") / Raw(bytes(1300 - 20))
    bigdf = eth(macs[1]) / IP(src="10.100.0.10", dst="8.8.8.8", flags="DF") / Raw(bytes(1300 - 20))
    big6 = eth(macs[1]) / IPv6(src="fd00:100::10", dst="2001:db9::1") / Raw(bytes(1300 - 40))
    r = gateway.run(cfg, {"lan0": [fits, big, bigdf, big6]})
    sizes = sorted(len(p) - 14 for p in r.out["wan0"])
    assert sizes == sorted([1280, 1276, 44])      # whole; 1256 + 20 and 24 + 20
    assert r.port("wan0")["mtu"] == 1280
    assert len(r.out["lan0"]) == 2                 # ICMP too big, both families
    r.assert_only_drop("mtu", 2, "lan0")


def test_drops_are_counted_on_the_input_port(gateway, macs):
    wan, lan = macs[0], macs[1]
    r = gateway.run(CONFIG, {"lan0": [ip4(lan, ttl=1)] * 3,
                             "wan0": [Ether(src=R2, dst=wan) / IP(src="8.8.8.8", dst="10.100.0.10", ttl=1) / ICMP()] * 5})
    assert r.port("lan0")["drops"]["ttl-exceeded"] == 3
    assert r.port("wan0")["drops"]["ttl-exceeded"] == 5
    assert r.stats["drops"]["ttl-exceeded"] == 8
    assert r.stats["totals"]["dropped"] == 8


def test_malformed_flood_among_good_traffic(gateway, macs):
    """Hundreds of broken packets of every kind between good ones: the good
    ones all arrive, the broken ones are all counted, no mbuf is lost (the
    harness checks the pool after every run)."""
    lan, wan = macs[1], macs[0]
    good = [ip4(lan, dst="203.0.113.%d" % (i + 1)) for i in range(50)]
    bad, reasons = [], {}
    for _, build, reason in CASES:
        for p in build(lan):
            bad.append(p)
            reasons[reason] = reasons.get(reason, 0) + 1
    seq = []
    for i, g in enumerate(good):
        seq.append(g)
        seq.extend(bad[i % len(bad):i % len(bad) + 3])
    r = gateway.run(CONFIG, {"lan0": seq * 3})
    v4_out = [p for p in r.out["wan0"] if IP in p]
    assert len(v4_out) == 150
    t = r.stats["totals"]
    assert t["rx_packets"] == len(seq) * 3 == t["tx_packets"] + t["dropped"]
