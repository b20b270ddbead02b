"""NAT-T over an IPv6 outer header: RFC 3948's zero UDP checksum is for
IPv4; over IPv6 (RFC 8200) the datagram carries a real one."""
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP

import test_esp as T


def test_natt_over_ipv6_has_a_udp_checksum(gateway, macs):
    lan = macs[1]
    t = T.Tunnel(nat_t=True, outer=6)
    sent = [T.outbound(f, size=s) for f in (4, 6) for s in (0, 333)]
    r = T.run_esp(gateway, t, lan=[T.from_lan(p, lan) for p in sent])
    frames = T.wan_out_esp(r)
    assert len(frames) == len(sent)
    opener = t.peer_out()
    for f in frames:
        o = T.outer_of(f)
        assert isinstance(o, IPv6) and o[UDP].sport == o[UDP].dport == 4500
        got = o[UDP].chksum
        o[UDP].chksum = None
        assert got != 0 and got == IPv6(bytes(o))[UDP].chksum
        opener.open(f)          # and it still opens
    assert r.stats["totals"]["dropped"] == 0
