"""Forwarding edge cases: the IPv4 checksum at its corner values, headers of
every size, fragments and extension headers, padding beyond the minimum
frame, multicast MACs, a port's own MAC on the wrong port, hairpinning,
ports named by device, MTU on the LAN side, and three ports with two
workers."""
import random
import struct

import pytest
from scapy.layers.inet import ICMP, IP, UDP, TCP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, \
    IPv6ExtHdrDestOpt, IPv6ExtHdrRouting
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from net import CONFIG, HOST, R2, R3, forwarded


def family_split(pkts):
    raw = [bytes(p) for p in pkts]
    return ([b for b in raw if b[12:14] == b"\x08\x00"], [b for b in raw if b[12:14] == b"\x86\xdd"])


def header_checksum(hdr):
    """RFC 1071, computed here from the bytes (independent of Scapy and of
    the gateway)."""
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def v4_with_checksum(mac, want_in=None, want_out=None, ttl=64):
    """An IPv4 packet whose header checksum is `want_in` as received, or
    `want_out` once the TTL is decremented (searching the IP id)."""
    p = Ether(bytes(Ether(src=HOST, dst=mac) / IP(src="10.100.0.10", dst="8.8.8.8", ttl=ttl) /
                    UDP(sport=7, dport=7)))
    hdr = bytearray(bytes(p[IP])[:20])
    hdr[10:12] = b"\0\0"
    for ident in range(65536):
        hdr[4:6] = struct.pack("!H", ident)
        if want_in is not None and header_checksum(bytes(hdr)) == want_in:
            break
        if want_out is not None:
            hdr[8] -= 1
            c = header_checksum(bytes(hdr))
            hdr[8] += 1
            if c == want_out:
                break
    else:
        raise AssertionError("no such id")
    p[IP].id = ident
    p[IP].chksum = None
    p = Ether(bytes(p))
    if want_in is not None:
        assert p[IP].chksum == want_in
    return p


def test_checksum_corner_values(gateway, macs):
    """Checksums 0x0000 and 0xffff-adjacent before and after the TTL change,
    the carry into the high byte (TTL 0x01xx), and TTL 255: the incremental
    update (RFC 1624) must equal a full recomputation."""
    wan, lan = macs[0], macs[1]
    pkts = [v4_with_checksum(lan, want_in=0x0000), v4_with_checksum(lan, want_out=0x0000),
            v4_with_checksum(lan, want_in=0xfffe), v4_with_checksum(lan, want_out=0xfffe),
            v4_with_checksum(lan, want_in=0x0001), v4_with_checksum(lan, want_out=0xffff - 0x0100),
            v4_with_checksum(lan, want_in=0x00ff, ttl=255), v4_with_checksum(lan, want_out=0x0000, ttl=2)]
    r = gateway.run(CONFIG, {"lan0": pkts})
    got = [bytes(p) for p in r.out["wan0"]]
    assert got == [forwarded(p, wan, R2) for p in pkts]
    for b in got:
        assert header_checksum(b[14:34]) == 0, "sent header does not verify"


def test_random_headers_keep_a_valid_checksum(gateway, macs):
    """Three hundred IPv4 headers with random TOS, id, flags, TTL and
    options: each leaves with TTL - 1 and exactly the recomputed checksum."""
    wan, lan = macs[0], macs[1]
    rnd = random.Random(20240601)
    pkts = []
    for i in range(300):
        opts = b"\x01" * (4 * rnd.randrange(0, 11))
        if opts:
            opts = opts[:-1] + b"\x00"
        p = Ether(src=HOST, dst=lan) / IP(src="10.100.0.%d" % rnd.randrange(2, 250),
                                          dst="%d.%d.%d.%d" % (rnd.choice([8, 20, 99, 203]), rnd.randrange(256),
                                                               rnd.randrange(256), rnd.randrange(1, 255)),
                                          tos=rnd.randrange(256), id=rnd.randrange(65536),
                                          flags=rnd.choice(["", "DF"]), ttl=rnd.randrange(2, 256),
                                          options=opts) / UDP(sport=i, dport=9) / Raw(bytes(rnd.randrange(0, 200)))
        pkts.append(Ether(bytes(p)))
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert [bytes(p) for p in r.out["wan0"]] == [forwarded(p, wan, R2) for p in pkts]
    assert r.stats["totals"]["dropped"] == 0


def test_header_sizes_fragments_and_odd_protocols(gateway, macs):
    """IHL 5 to 15, fragments (first, middle, last), protocol 255 with no
    payload, a bare 20-byte packet: a router forwards them all as they are."""
    wan, lan = macs[0], macs[1]
    pkts = []
    for words in range(0, 11):
        opts = b"\x01" * (4 * words - 1) + b"\x00" if words else b""
        pkts.append(Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.4.4", options=opts) /
                    ICMP(id=words))
    frag = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.4.4", id=4242) / UDP() / Raw(bytes(3000))
    from scapy.layers.inet import fragment
    for f in fragment(frag[IP], fragsize=1000):
        pkts.append(Ether(src=HOST, dst=lan) / f)
    pkts.append(Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.4.4", proto=255))
    pkts.append(Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.4.4", proto=6) /
                TCP(flags="S", options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]))
    pkts = [Ether(bytes(p)) for p in pkts]
    assert pkts[10][IP].ihl == 15 and len(pkts[-2]) == 34
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert [bytes(p) for p in r.out["wan0"]] == [forwarded(p, wan, R2) for p in pkts]
    assert r.stats["totals"]["dropped"] == 0
    assert r.port("wan0")["tx_bytes"] == sum(len(p) for p in pkts)


def test_ipv6_extension_headers_and_empty_payload(gateway, macs):
    wan, lan = macs[0], macs[1]
    base = Ether(src=HOST, dst=lan) / IPv6(src="fd00:100::10", dst="2001:db9::1", fl=0xabcde, tc=0xb8)
    pkts = [base / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=2) / Raw(b"hbh"),
            base / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() / UDP() / Raw(b"rh"),
            base / IPv6ExtHdrFragment(id=7, m=1) / Raw(bytes(64)),
            base / IPv6ExtHdrFragment(id=7, offset=8) / Raw(bytes(16)),
            Ether(src=HOST, dst=lan) / IPv6(src="fd00:100::10", dst="2001:db9::1", nh=59)]
    pkts = [Ether(bytes(p)) for p in pkts]
    assert len(pkts[-1]) == 54 and pkts[-1][IPv6].plen == 0
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert [bytes(p) for p in r.out["wan0"]] == [forwarded(p, wan, R2) for p in pkts]
    assert r.stats["totals"]["dropped"] == 0


def test_padding_of_any_length_is_trimmed(gateway, macs):
    """Not only 60-byte minimum frames: whatever follows the IP packet in the
    frame is not part of it and is not forwarded."""
    wan, lan = macs[0], macs[1]
    v4 = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8") / UDP() / Raw(b"abc")
    v6 = Ether(src=HOST, dst=lan) / IPv6(src="fd00:100::10", dst="2001:db9::1", nh=59)
    pkts, want = [], []
    for extra in (1, 17, 100, 1000):
        pkts.append(Ether(bytes(v4) + bytes([extra & 0xff]) * extra))
        pkts.append(Ether(bytes(v6) + b"\x55" * extra))
        want += [forwarded(v4, wan, R2), forwarded(v6, wan, R2)]
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert family_split(r.out["wan0"]) == family_split(want)
    assert r.port("lan0")["rx_bytes"] == sum(len(p) for p in pkts)
    assert r.port("wan0")["tx_bytes"] == sum(len(w) for w in want)


def test_largest_frame_of_the_mtu(gateway, macs):
    wan, lan = macs[0], macs[1]
    v4 = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8") / Raw(bytes(1480))
    v6 = Ether(src=HOST, dst=lan) / IPv6(src="fd00:100::10", dst="2001:db9::1") / Raw(bytes(1460))
    r = gateway.run(CONFIG, {"lan0": [v4, v6]})
    assert family_split(r.out["wan0"]) == family_split([forwarded(v4, wan, R2), forwarded(v6, wan, R2)])
    assert {len(p) for p in r.out["wan0"]} == {1514}


def test_mtu_of_the_lan_port(gateway, macs):
    """lan0 at MTU 1280: wan0 -> lan0 packets of 1280 bytes pass whole;
    larger IPv4 without DF leaves in fragments of at most 1280, larger IPv4
    with DF and IPv6 are dropped (with ICMP too big to the sender)."""
    wan, lan = macs[0], macs[1]
    cfg = CONFIG.replace('lan0: { port: 1, address: [10.100.0.1/24, "fd00:100::1/64"] }',
                         'lan0: { port: 1, address: [10.100.0.1/24, "fd00:100::1/64"], mtu: 1280 }')
    assert cfg != CONFIG

    def v4(size, **kw):
        return Ether(src=R2, dst=wan) / IP(src="198.51.100.1", dst="10.100.0.10", **kw) / Raw(bytes(size - 20))

    def v6(size):
        return Ether(src=R2, dst=wan) / IPv6(src="2001:db9::1", dst="fd00:100::10") / Raw(bytes(size - 40))

    fits = [v4(1280), v4(1280, flags="DF"), v6(1280)]
    frag = [v4(1281), v4(1300)]
    big = [v4(1300, flags="DF"), v6(1281), v6(1300)]
    r = gateway.run(cfg, {"wan0": frag + fits + big})
    whole = [p for p in r.out["lan0"] if len(p) - 14 == 1280 and
             (IPv6 in p or not (p[IP].flags.MF or p[IP].frag))]
    assert family_split(whole) == family_split([forwarded(p, lan, HOST) for p in fits])
    pieces = [p for p in r.out["lan0"] if IP in p and (p[IP].flags.MF or p[IP].frag)]
    assert len(pieces) == 4 and all(len(p) - 14 <= 1280 for p in pieces)
    assert len(r.out["wan0"]) == len(big)          # ICMP too big to 198.51.100.1 / 2001:db9::1
    assert r.port("lan0")["mtu"] == 1280 and r.port("wan0")["mtu"] == 1500
    r.assert_only_drop("mtu", len(big), "wan0")


def test_multicast_and_broadcast_macs_are_accepted(gateway, macs):
    wan, lan = macs[0], macs[1]
    pkts = [Ether(src=HOST, dst="01:00:5e:00:00:01") / IP(src="10.100.0.10", dst="8.8.8.8") / ICMP(),
            Ether(src=HOST, dst="ff:ff:ff:ff:ff:ff") / IPv6(src="fd00:100::10", dst="2001:db9::1", nh=59),
            Ether(src=HOST, dst="33:33:00:00:00:01") / IPv6(src="fd00:100::10", dst="2001:db9::2", nh=59),
            Ether(src=HOST, dst="03:00:00:00:00:00") / IP(src="10.100.0.10", dst="8.8.8.9") / ICMP()]
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert family_split(r.out["wan0"]) == family_split([forwarded(p, wan, R2) for p in pkts])
    assert r.stats["totals"]["dropped"] == 0


def test_the_other_ports_mac_is_another_host(gateway, macs):
    """A frame for wan0's MAC that arrives on lan0 is not for lan0; nor is
    one for a MAC one bit away from lan0's."""
    wan, lan = macs[0], macs[1]
    near = lan[:-2] + "%02x" % (int(lan[-2:], 16) ^ 0x80)
    pkts = [Ether(src=HOST, dst=wan) / IP(src="10.100.0.10", dst="8.8.8.8") / ICMP(),
            Ether(src=HOST, dst=wan) / IPv6(src="fd00:100::10", dst="2001:db9::1", nh=59),
            Ether(src=HOST, dst=near) / IP(src="10.100.0.10", dst="8.8.8.8") / ICMP()]
    r = gateway.run(CONFIG, {"lan0": pkts})
    assert r.out["wan0"] == [] and r.out["lan0"] == []
    r.assert_only_drop("other-host", 3, "lan0")


def test_hairpin_out_of_the_input_port(gateway, macs):
    """A router sends a packet back out of the port it came in on when the
    route says so (wan0 -> 10/8 via 192.168.0.3, also on wan0)."""
    wan = macs[0]
    pkts = [Ether(src=R2, dst=wan) / IP(src="198.51.100.1", dst="10.9.9.9") / UDP() / Raw(b"hairpin"),
            Ether(src=R2, dst=wan) / IPv6(src="2001:db9::5", dst="2001:db8:bb::1") / UDP() / Raw(b"hairpin")]
    r = gateway.run(CONFIG, {"wan0": pkts})
    assert family_split(r.out["wan0"]) == family_split([forwarded(p, wan, R3) for p in pkts])
    assert r.out["lan0"] == []
    assert r.port("wan0")["rx_packets"] == r.port("wan0")["tx_packets"] == 2


def test_local_addresses_from_either_side(gateway, macs):
    """Every address of the gateway is local whichever port the packet came
    in on."""
    wan, lan = macs[0], macs[1]
    mine = ["10.100.0.1", "192.168.0.1"]
    mine6 = ["fd00:100::1", "2001:db8::1"]
    pkts = [Ether(src=R2, dst=wan) / IP(src="198.51.100.1", dst=a) / ICMP() for a in mine] + \
           [Ether(src=R2, dst=wan) / IPv6(src="2001:db9::1", dst=a) / UDP() for a in mine6]
    r = gateway.run(CONFIG, {"wan0": pkts})
    # ICMP echo replies (IPv4) and port unreachable (UDP, IPv6), via R2
    back = r.out["wan0"]
    assert len(back) == 4 and r.out["lan0"] == []
    assert sorted((p[IP].src, p[ICMP].type) for p in back if IP in p) == \
        [("10.100.0.1", 0), ("192.168.0.1", 0)]
    assert sorted(p[IPv6].src for p in back if IPv6 in p) == ["2001:db8::1", "fd00:100::1"]
    r.assert_only_drop("local", 2, "wan0")


PORTS_BY_NAME = f"""
ports:
  lan0: {{ port: net_pcap1, address: [10.100.0.1/24, "fd00:100::1/64"] }}
  dmz0: {{ port: net_pcap2, address: [172.31.0.1/24] }}
  wan0: {{ port: net_pcap0, address: [192.168.0.1/24, "2001:db8::1/64"] }}
neighbors:
  - {{ address: 192.168.0.2, lladdr: "{R2}", dev: wan0 }}
  - {{ address: "2001:db8::2", lladdr: "{R2}", dev: wan0 }}
  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}
  - {{ address: "fd00:100::10", lladdr: "{HOST}", dev: lan0 }}
  - {{ address: 172.31.0.9, lladdr: "02:00:00:00:09:09", dev: dmz0 }}
routes:
  - {{ prefix: 0.0.0.0/0, via: 192.168.0.2, dev: wan0 }}
  - {{ prefix: "::/0", via: "2001:db8::2", dev: wan0 }}
  - {{ prefix: 10.200.0.0/16, via: 172.31.0.9, dev: dmz0 }}
"""


@pytest.mark.parametrize("lcores", ["0-1", "0@0,1@1,2@1", "0@0,1@1,2@1,3@1,4@1"],
                         ids=["1-worker", "2-workers", "4-workers-for-3-ports"])
def test_three_ports_named_by_device(gateway, macs, lcores):
    """Ports given by device name, listed in another order than their ids;
    traffic between all three at once, on one, two and four workers (one
    of which has no port to poll)."""
    wan, lan, dmz = macs
    to_wan = [Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="203.0.113.%d" % i) / UDP() / Raw(bytes(i))
              for i in range(1, 60)]
    to_dmz = [Ether(src=R2, dst=wan) / IP(src="203.0.113.5", dst="10.200.%d.1" % i) / UDP() / Raw(bytes(i))
              for i in range(60)]
    to_lan = [Ether(src="02:00:00:00:09:09", dst=dmz) / IP(src="10.200.0.1", dst="10.100.0.10") / TCP()
              for _ in range(40)] + \
             [Ether(src=R2, dst=wan) / IPv6(src="2001:db9::1", dst="fd00:100::10") / UDP() / Raw(bytes(i))
              for i in range(40)]
    wan_in = [p for pair in zip(to_dmz, to_lan[40:]) for p in pair] + to_dmz[40:]
    r = gateway.run(PORTS_BY_NAME, {"lan0": to_wan, "wan0": wan_in, "dmz0": to_lan[:40]},
                    ports=("wan0", "lan0", "dmz0"), lcores=lcores)
    for name, pid, dev in (("wan0", 0, "net_pcap0"), ("lan0", 1, "net_pcap1"), ("dmz0", 2, "net_pcap2")):
        assert r.port(name)["port_id"] == pid and r.port(name)["device"] == dev
        assert r.port(name)["mac"] == macs[pid]
    assert [bytes(p) for p in r.out["wan0"]] == [forwarded(p, wan, R2) for p in to_wan]
    assert [bytes(p) for p in r.out["dmz0"]] == [forwarded(p, dmz, "02:00:00:00:09:09") for p in to_dmz]
    # from two input ports: each input port's packets keep their order
    got = [bytes(p) for p in r.out["lan0"]]
    assert sorted(got) == sorted(forwarded(p, lan, HOST) for p in to_lan)
    assert [g for g in got if g[12:14] == b"\x08\x00"] == [forwarded(p, lan, HOST) for p in to_lan[:40]]
    assert [g for g in got if g[12:14] == b"\x86\xdd"] == [forwarded(p, lan, HOST) for p in to_lan[40:]]
    assert r.stats["totals"]["dropped"] == 0
