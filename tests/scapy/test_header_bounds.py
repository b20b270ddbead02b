"""Header checks at their exact bounds: one byte short is dropped under its
reason, the exact fit is forwarded.  Each group of drops is one run, on
wan0 (the other direction from test_drops.py), and asserts that nothing
leaves any port and that no other reason moves."""
import struct

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from net import CONFIG, HOST, R2, forwarded

SRC4, DST4 = "198.51.100.7", "10.100.0.10"
SRC6, DST6 = "2001:db9::7", "fd00:100::10"


def cksum(b):
    ihl = (b[14] & 0xf) * 4
    b[24:26] = b"\0\0"
    n = min(ihl, len(b) - 14) // 2 * 2
    s = sum(struct.unpack("!%dH" % (n // 2), bytes(b[14:14 + n])))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    b[24:26] = struct.pack("!H", ~s & 0xffff)


def v4(mac, payload=b"", options=b"", **kw):
    return Ether(bytes(Ether(src=R2, dst=mac) / IP(src=kw.pop("src", SRC4), dst=kw.pop("dst", DST4),
                                                   options=options, proto=253, **kw) / Raw(payload)))


def v4_raw(mac, first_byte=0x45, total_len=None, frame_len=None, payload=b"x" * 8):
    """IPv4 with a chosen version/IHL byte and total length, checksum made
    valid over what there is of the header, frame cut to frame_len."""
    ihl = (first_byte & 0xf) * 4
    hdr = bytearray(bytes(IP(src=SRC4, dst=DST4, proto=253)))
    hdr += b"\x01" * max(0, ihl - 20)
    b = bytearray(bytes(Ether(src=R2, dst=mac, type=0x0800))) + hdr + payload
    b[14] = first_byte
    b[16:18] = struct.pack("!H", len(b) - 14 if total_len is None else total_len)
    cksum(b)
    return Ether(bytes(b[:frame_len]) if frame_len is not None else bytes(b))


def v6(mac, payload=b"", **kw):
    return Ether(bytes(Ether(src=R2, dst=mac) / IPv6(src=kw.pop("src", SRC6), dst=kw.pop("dst", DST6),
                                                     nh=59, **kw) / Raw(payload)))


def v6_plen(mac, plen, have):
    b = bytearray(bytes(v6(mac, bytes(have))))
    b[18:20] = struct.pack("!H", plen)
    return Ether(bytes(b))


def test_exact_fits_are_forwarded(gateway, macs):
    wan, lan = macs[0], macs[1]
    pkts = [
        v4_raw(wan, 0x45, payload=b""),                      # header only, length 20
        v4_raw(wan, 0x46, payload=b""),                      # IHL 6, length 24
        v4_raw(wan, 0x4f, payload=b""),                      # IHL 15, length 60
        v4_raw(wan, 0x4f, payload=b"p"),                     # IHL 15 and one byte
        v4(wan, b"y", ttl=2),
        v6(wan),                                             # payload length 0
        v6_plen(wan, 1, 1),
        v6(wan, b"z" * 1460),                                # 1500 bytes exactly
    ]
    r = gateway.run(CONFIG, {"wan0": pkts})
    raw = [bytes(p) for p in r.out["lan0"]]
    want = [forwarded(p, lan, HOST) for p in pkts]
    assert [b for b in raw if b[12:14] == b"\x08\x00"] == [w for w in want if w[12:14] == b"\x08\x00"]
    assert [b for b in raw if b[12:14] == b"\x86\xdd"] == [w for w in want if w[12:14] == b"\x86\xdd"]
    assert r.stats["totals"]["dropped"] == 0


GROUPS = {
    "bad-header": lambda m: [
        Ether(bytes(Ether(src=R2, dst=m, type=0x0800))),                 # Ethernet header only
        Ether(bytes(Ether(src=R2, dst=m, type=0x86dd))),
        v4_raw(m, frame_len=14 + 1),
        v4_raw(m, frame_len=14 + 19),                                     # one short of a header
        v4_raw(m, 0x46, frame_len=14 + 23),                               # IHL 6, 23 bytes there
        v4_raw(m, 0x45, total_len=0),
        v4_raw(m, 0x45, total_len=19),
        v4_raw(m, 0x46, total_len=23, payload=b""),                       # shorter than IHL*4
        v4_raw(m, 0x45, total_len=20 + 8 + 1),                            # one byte more than there is
        v4_raw(m, 0x45, total_len=0xffff),
        v4_raw(m, 0x40), v4_raw(m, 0x41), v4_raw(m, 0x44),                # IHL 0, 1, 4
        v4_raw(m, 0x05), v4_raw(m, 0x65), v4_raw(m, 0xf5),                # versions 0, 6, 15
        Ether(bytes(v6(m))[:14 + 39]),
        v6_plen(m, 9, 8),                                                 # payload one byte short
        v6_plen(m, 0xffff, 8),
        Ether(bytes(v6(m))[:14] + b"\x40" + bytes(v6(m))[15:]),           # version 4 under 0x86dd
        Ether(bytes(v6(m))[:14] + b"\x00" + bytes(v6(m))[15:]),
    ],
    "bad-checksum": lambda m: [
        v4(m, b"a", chksum=0), v4(m, b"b", chksum=0xffff),         # (the right one is neither)
        Ether(bytes(v4(m, b"c"))[:24] + bytes([bytes(v4(m, b"c"))[24] ^ 1]) + bytes(v4(m, b"c"))[25:]),
        Ether(bytes(v4(m, b"d", options=b"\x01\x01\x01\x00"))[:37] + b"\x02" + bytes(v4(m, b"d", options=b"\x01\x01\x01\x00"))[38:]),
    ],
    "martian": lambda m: [
        v4(m, src="0.0.0.0"), v4(m, src="0.1.2.3"), v4(m, src="127.255.255.254"),
        v4(m, src="224.0.0.1"), v4(m, src="239.255.255.255"), v4(m, src="255.255.255.255"),
        v4(m, src="240.0.0.1"), v4(m, dst="0.0.0.0"), v4(m, dst="127.0.0.1"), v4(m, dst="240.0.0.1"),
        v6(m, src="::"), v6(m, src="::1"), v6(m, src="ff02::1"), v6(m, src="ff0e::1234"),
        v6(m, dst="::1"), v6(m, dst="::"),
    ],
    "ttl-exceeded": lambda m: [v4(m, ttl=0), v4(m, ttl=1), v6(m, hlim=0), v6(m, hlim=1)],
    "other-host": lambda m: [
        Ether(bytes.fromhex("020000000001") + bytes(v4(m))[6:]),
        Ether(bytes.fromhex("000000000000") + bytes(v6(m))[6:]),
    ],
}


def test_bad_checksums_are_wrong():
    for p in GROUPS["bad-checksum"]("02:00:00:00:00:01"):
        b = bytearray(bytes(p))
        have = bytes(b[24:26])
        cksum(b)
        assert have != bytes(b[24:26]) and {have, bytes(b[24:26])} != {b"\0\0", b"\xff\xff"}


@pytest.mark.parametrize("reason", sorted(GROUPS))
def test_bounds_dropped(gateway, macs, reason):
    wan = macs[0]
    pkts = GROUPS[reason](wan)
    r = gateway.run(CONFIG, {"wan0": pkts})
    if reason == "ttl-exceeded":        # answered: ICMP time exceeded, to R2
        # ICMP type: 11 (IPv4 header 20 bytes), ICMPv6 3 (header 40)
        assert sorted((p[Ether].dst, bytes(p)[34] if p.type == 0x800 else bytes(p)[54])
                      for p in r.out["wan0"]) == \
            sorted((R2, 11 if IP in p else 3) for p in pkts)
    else:
        assert r.out["wan0"] == []
    assert r.out["lan0"] == [], "nothing may be forwarded"
    r.assert_only_drop(reason, len(pkts), "wan0")
    assert r.port("wan0")["rx_packets"] == r.port("wan0")["dropped"] == len(pkts)
    assert r.port("wan0")["rx_bytes"] == sum(len(p) for p in pkts)
