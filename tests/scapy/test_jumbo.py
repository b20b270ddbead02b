"""Ports with a jumbo MTU: frames larger than one mbuf (chained segments)
are forwarded byte for byte, the MTU still bounds them, and bytes after the
IP packet are trimmed however many segments they reach into."""
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from net import forwarded

HOST, ROUTER = "02:00:00:00:01:10", "02:00:00:00:00:02"

CONFIG = f"""
ports:
  wan0: {{ port: 0, address: [192.168.0.1/24, "2001:db8::1/64"], mtu: 9000 }}
  lan0: {{ port: 1, address: [10.100.0.1/24, "fd00:100::1/64"], mtu: 9000 }}
neighbors:
  - {{ address: 192.168.0.2, lladdr: "{ROUTER}", dev: wan0 }}
  - {{ address: "2001:db8::2", lladdr: "{ROUTER}", dev: wan0 }}
  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}
  - {{ address: "fd00:100::10", lladdr: "{HOST}", dev: lan0 }}
routes:
  - {{ prefix: 0.0.0.0/0, via: 192.168.0.2, dev: wan0 }}
  - {{ prefix: "::/0", via: "2001:db8::2", dev: wan0 }}
"""


def v4(mac, size, **kw):
    """An IPv4 packet of `size` bytes with a payload that is not all zero."""
    return Ether(bytes(Ether(src=HOST, dst=mac) / IP(src="10.100.0.10", dst="8.8.8.8", **kw) /
                       UDP(sport=1, dport=2) / Raw((bytes(range(251)) * 40)[:size - 28])))


def v6(mac, size):
    return Ether(bytes(Ether(src=HOST, dst=mac) / IPv6(src="fd00:100::10", dst="2001:db9::1") /
                       UDP(sport=1, dport=2) / Raw((bytes(range(241)) * 40)[:size - 48])))


def split(raw):
    return ([b for b in raw if b[12:14] == b"\x08\x00"], [b for b in raw if b[12:14] == b"\x86\xdd"])


def test_jumbo_frames_byte_for_byte(gateway, macs):
    wan, lan = macs[0], macs[1]
    sizes = [1500, 2030, 2048, 2049, 4000, 6000, 8999, 9000]
    pkts = [v4(lan, n, ttl=n % 200 + 2) for n in sizes] + [v6(lan, n) for n in sizes]
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert split([bytes(p) for p in r.out["wan0"]]) == split([forwarded(p, wan, ROUTER) for p in pkts])
    assert r.stats["totals"]["dropped"] == 0


def test_jumbo_mtu_still_bounds(gateway, macs):
    lan = macs[1]
    """Beyond the MTU: IPv6 and DF get ICMP too big; IPv4 without DF would
    be fragmented, but a chained (multi-segment) packet is not: frag-failed."""
    pkts = [v4(lan, 9001), v6(lan, 9001), v4(lan, 9100, flags="DF")]
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert r.out["wan0"] == []
    assert len(r.out["lan0"]) == 2                 # ICMP too big, 9000
    d = {k: v for k, v in r.stats["drops"].items() if v}
    assert d == {"mtu": 2, "frag-failed": 1}
    assert r.port("lan0")["dropped"] == 3


def test_trailing_bytes_across_segments_are_trimmed(gateway, macs):
    """Everything after the IP total length is not part of the packet, also
    when it fills more than the last mbuf segment: the packet is forwarded
    (issue 2: padding is trimmed; bad-header is only for bad headers)."""
    wan, lan = macs[0], macs[1]
    small, small6, big = v4(lan, 100), v6(lan, 100), v4(lan, 4000)
    pkts = [Ether(bytes(small) + b"\x00" * 30),          # one segment: trimmed today
            Ether(bytes(small) + b"\x00" * 4900),        # 100-byte packet in a 5014-byte frame
            Ether(bytes(small6) + b"\xee" * 3000),
            Ether(bytes(big) + b"\x00" * 3000)]
    r = gateway.run(CONFIG, {"lan0": pkts})
    want = [forwarded(small, wan, ROUTER), forwarded(small, wan, ROUTER), forwarded(small6, wan, ROUTER),
            forwarded(big, wan, ROUTER)]
    assert split([bytes(p) for p in r.out["wan0"]]) == split(want), \
        {k: v for k, v in r.stats["drops"].items() if v}
    assert r.stats["totals"]["dropped"] == 0
