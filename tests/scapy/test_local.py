"""The gateway as a host on its links: ARP, IPv6 neighbor discovery, ICMP
echo and errors, and the MTU of ipsec interfaces (too big, fragmentation).

            wan0 = net_pcap0                           lan0 = net_pcap1
  R2 192.168.0.2   192.168.0.1/24, 2001:db8::1/64  [gw]  10.100.0.1/24, fd00:100::1/64   host
  (tunnel remote)  ipsec0: 192.168.0.1 -> .2             10.100.0.10, fd00:100::10
                   far side 10.200.0.0/24, fd00:200::/64 through ipsec0

Every reply is parsed by Scapy; ICMP and ND checksums are Scapy's to
check.  What goes through the tunnel is opened by Scapy's
SecurityAssociation (esp_helpers.Peer).
"""
import pytest
from scapy.compat import raw
from scapy.layers.inet import ICMP, IP, IPerror, UDP, UDPerror
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig, ICMPv6TimeExceeded,
                                IPv6, in6_getnsma, in6_getnsmac, inet_pton)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from conftest import Live
from esp_helpers import (CBC_SHA256, FAR_HOST, GCM128, LAN_HOST, Tunnel, assert_drops,
                         by_family, from_lan, inbound, outbound, routed_inner)
from net import CONFIG, HOST, R2

BCAST = "ff:ff:ff:ff:ff:ff"

# A LAN without static neighbors: the host is learned.
LEARN = """
ports:
  wan0: { port: 0, address: [192.168.0.1/24, "2001:db8::1/64"] }
  lan0: { port: 1, address: [10.100.0.1/24, "fd00:100::1/64"] }
neighbors:
  - { address: 192.168.0.2, lladdr: "%s", dev: wan0 }
  - { address: "2001:db8::2", lladdr: "%s", dev: wan0 }
routes:
  - { prefix: 0.0.0.0/0, via: 192.168.0.2, dev: wan0 }
  - { prefix: "::/0", via: "2001:db8::2", dev: wan0 }
""" % (R2, R2)


def local(r):
    return r.stats["local"]


def eui64_ll(mac):
    b = bytes.fromhex(mac.replace(":", ""))
    import socket
    a = "fe80::%02x%02x:%02xff:fe%02x:%02x%02x" % (b[0] ^ 2, b[1], b[2], b[3], b[4], b[5])
    return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, a))


def ping(mac, dst, src="10.100.0.10", ident=7, seq=1, size=56, **kw):
    return Ether(src=HOST, dst=mac) / IP(src=src, dst=dst, **kw) / \
        ICMP(id=ident, seq=seq) / Raw(bytes(range(size)))


def ping6(mac, dst, src="fd00:100::10", size=56, **kw):
    return Ether(src=HOST, dst=mac) / IPv6(src=src, dst=dst, **kw) / \
        ICMPv6EchoRequest(id=9, seq=3, data=bytes(range(size)))


def ns(mac_dst, target, src="fd00:100::10", dst=None, hlim=255, slla=HOST):
    dst = dst or in6_getnsma(inet_pton(10, target))
    from socket import inet_ntop, AF_INET6
    if isinstance(dst, bytes):
        dst = inet_ntop(AF_INET6, dst)
    p = Ether(src=HOST, dst=mac_dst) / IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6ND_NS(tgt=target)
    if slla:
        p = p / ICMPv6NDOptSrcLLAddr(lladdr=slla)
    return p


# --- ARP ----------------------------------------------------------------------

def test_arp_reply_learning_and_echo(gateway, macs):
    """A host ARPs for the gateway and pings it: the ARP reply carries the
    port's MAC, the host is learned from its request (no static entry), and
    the echo reply goes straight to it.  The port announced itself with a
    gratuitous ARP when it came up."""
    lan = macs[1]
    req = Ether(src=HOST, dst=BCAST) / ARP(op=1, hwsrc=HOST, psrc="10.100.0.10",
                                             pdst="10.100.0.1")
    r = gateway.run(LEARN, {"lan0": [req, ping(lan, "10.100.0.1")]})
    arps = [p[ARP] for p in r.nd["lan0"] if ARP in p]
    garp = [a for a in arps if a.op == 1 and a.psrc == a.pdst == "10.100.0.1"]
    assert len(garp) == 1 and garp[0].hwsrc == lan
    replies = [a for a in arps if a.op == 2]
    assert len(replies) == 1
    a = replies[0]
    assert (a.hwsrc, a.psrc, a.hwdst, a.pdst) == (lan, "10.100.0.1", HOST, "10.100.0.10")
    (e,) = r.out["lan0"]
    assert e[Ether].src == lan and e[Ether].dst == HOST
    assert e[IP].src == "10.100.0.1" and e[IP].dst == "10.100.0.10"
    assert e[ICMP].type == 0 and e[ICMP].id == 7 and e[ICMP].seq == 1
    assert bytes(e[Raw]) == bytes(range(56))
    chk = IP(raw(e[IP]))
    del chk.chksum, chk[ICMP].chksum
    assert IP(raw(chk)).chksum == e[IP].chksum and IP(raw(chk))[ICMP].chksum == e[ICMP].chksum
    s = local(r)
    assert (s["arp-in"], s["arp-replies-out"], s["echo-replies"]) == (1, 1, 1)
    assert r.port("lan0")["tx_local"] == len(r.all["lan0"])
    assert r.port("lan0")["tx_packets"] == 0       # forwarded: none
    assert_drops(r, {})


def test_arp_others_and_malformed(gateway, macs):
    """ARP for another address, ARP claiming one of ours, and malformed ARP
    are dropped under their reasons, answered by nothing, learned from never
    (a ping from that host then waits for resolution)."""
    lan = macs[1]
    other = Ether(src=HOST, dst=BCAST) / ARP(op=1, hwsrc=HOST, psrc="10.100.0.10",
                                               pdst="10.100.0.77")
    claim = Ether(src=HOST, dst=BCAST) / ARP(op=2, hwsrc=HOST, psrc="10.100.0.1",
                                               pdst="10.100.0.1")
    short = Ether(raw(Ether(src=HOST, dst=BCAST) / ARP(pdst="10.100.0.1"))[:30])
    hlen = Ether(src=HOST, dst=BCAST) / ARP(hwlen=8, pdst="10.100.0.1")
    op9 = Ether(src=HOST, dst=BCAST) / ARP(op=9, psrc="10.100.0.10", pdst="10.100.0.1")
    mcast_sender = Ether(src=HOST, dst=BCAST) / ARP(hwsrc="01:00:5e:00:00:01",
                                                      psrc="10.100.0.10", pdst="10.100.0.1")
    r = gateway.run(LEARN, {"lan0": [other, claim, short, hlen, op9, mcast_sender]})
    assert [p for p in r.nd["lan0"] if ARP in p and p[ARP].op == 2] == []
    assert_drops(r, {"arp-other": 2, "bad-arp": 4})
    assert local(r)["arp-in"] == 6


def test_resolution_asks_and_gives_up(gateway, macs, tmp_path):
    """A packet for an unknown neighbor makes the gateway ask (ARP request,
    broadcast, from its address on that subnet) and hold the packet; with no
    answer it asks three times, then drops what it held (no-neighbor) and
    tells the sender (ICMP host unreachable).  IPv6 asks with a neighbor
    solicitation to the solicited-node group."""
    wan = macs[0]
    pkts = [Ether(src=R2, dst=wan) / IP(src="198.51.100.7", dst="10.100.0.10") /
            UDP(sport=1, dport=2) / Raw(b"x" * 20),
            Ether(src=R2, dst=wan) / IPv6(src="2001:db8:5::7", dst="fd00:100::10") /
            UDP(sport=1, dport=2) / Raw(b"y" * 20)]
    g = Live(tmp_path, LEARN, {"wan0": pkts})
    try:
        import time
        time.sleep(0.5)
        pend = [n for n in g.ok("neighbor-list")["neighbors"] if n["state"] == "incomplete"]
        assert sorted(n["address"] for n in pend) == ["10.100.0.10", "fd00:100::10"]
        assert all(n["held"] == 1 and n["lladdr"] is None and n["dev"] == "lan0" for n in pend)
        time.sleep(3.6)
    finally:
        s = g.stop()
    lan_out = g.out("lan0", neighbor_frames=True)
    reqs = [p[ARP] for p in lan_out if ARP in p and p[ARP].pdst == "10.100.0.10"]
    assert len(reqs) == 3
    assert all(a.op == 1 and a.psrc == "10.100.0.1" and a.hwsrc == macs[1] for a in reqs)
    assert all(p[Ether].dst == BCAST for p in lan_out if ARP in p and p[ARP].pdst == "10.100.0.10")
    sol = [p for p in lan_out if ICMPv6ND_NS in p]
    assert len(sol) == 3
    for p in sol:
        assert p[ICMPv6ND_NS].tgt == "fd00:100::10" and p[IPv6].hlim == 255
        assert p[IPv6].dst == "ff02::1:ff00:10" and p[Ether].dst == "33:33:ff:00:00:10"
        assert p[IPv6].src == "fd00:100::1" and p[ICMPv6NDOptSrcLLAddr].lladdr == macs[1]
    assert s["drops"]["no-neighbor"] == 2 and s["ports"]["wan0"]["drops"]["no-neighbor"] == 2
    assert s["local"]["resolve-failed"] == 2
    unreach = g.out("wan0")
    assert len(unreach) == 2
    u4 = [p for p in unreach if IP in p][0]
    assert u4[Ether].dst == R2 and u4[IP].dst == "198.51.100.7" and u4[IP].src == "192.168.0.1"
    assert (u4[ICMP].type, u4[ICMP].code) == (3, 1) and u4[IPerror].dst == "10.100.0.10"
    u6 = [p for p in unreach if IPv6 in p][0]
    assert u6[IPv6].dst == "2001:db8:5::7" and u6[IPv6].src == "2001:db8::1"
    assert (u6[ICMPv6DestUnreach].type, u6[ICMPv6DestUnreach].code) == (1, 3)


def test_held_packets_dropped_at_exit(gateway, macs):
    """A gateway that stops while it resolves drops what it held, counted."""
    wan = macs[0]
    p = Ether(src=R2, dst=wan) / IP(src="198.51.100.7", dst="10.100.0.10") / UDP() / Raw(b"z")
    r = gateway.run(LEARN, {"wan0": [p] * 3})
    assert_drops(r, {"no-neighbor": 3})
    assert [a for a in r.nd["lan0"] if ARP in a and a[ARP].pdst == "10.100.0.10"]


def test_neighbor_list_shows_learned(gateway, macs, tmp_path):
    req = Ether(src=HOST, dst=BCAST) / ARP(op=1, hwsrc=HOST, psrc="10.100.0.10",
                                             pdst="10.100.0.1")
    g = Live(tmp_path, LEARN, {"lan0": [req, ns(macs[1], "fd00:100::1")]})
    try:
        import time
        time.sleep(0.3)
        ns_ = {n["address"]: n for n in g.ok("neighbor-list")["neighbors"]}
    finally:
        g.stop()
    for a in ("10.100.0.10", "fd00:100::10"):
        assert ns_[a]["lladdr"] == HOST and ns_[a]["state"] == "reachable"
        assert ns_[a]["static"] is False and ns_[a]["dev"] == "lan0" and ns_[a]["age"] <= 1
    assert ns_["192.168.0.2"]["state"] == "static"


def test_neighbors_probed_and_forgotten(macs, tmp_path):
    """With --neigh-reachable 1: a learned neighbor still in use is probed
    by unicast ARP three times once it has not been heard from for a
    second, then forgotten (and resolved again by broadcast); one not in
    use is forgotten after four seconds."""
    import time
    wan, lan = macs[0], macs[1]
    learn4 = Ether(src=HOST, dst=BCAST) / ARP(op=1, hwsrc=HOST, psrc="10.100.0.10",
                                                pdst="10.100.0.1")
    flow = Ether(src=R2, dst=wan) / IP(src="198.51.100.7", dst="10.100.0.10") / UDP() / Raw(b"f")
    # (the flow loops at line rate: nothing is captured)
    g = Live(tmp_path, LEARN, {"lan0": [learn4, ns(lan, "fd00:100::1")], "wan0": [flow]},
             loop=("wan0",), capture=False, extra=["--neigh-reachable", "1"])
    try:
        time.sleep(0.3)
        n = {x["address"]: x for x in g.ok("neighbor-list")["neighbors"]}
        assert n["10.100.0.10"]["lladdr"] == n["fd00:100::10"]["lladdr"] == HOST
        # probes start a second after learning, a second apart, three of
        # them; polled, as a sanitizer build is slower
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            loc = g.ok("stats")["stats"]["local"]
            if loc["neighbors-expired"] == 2 and loc["arp-requests-out"] >= 2 + 3 + 1:
                break
            time.sleep(0.2)
        n = {x["address"]: x["state"] for x in g.ok("neighbor-list")["neighbors"]}
        assert "fd00:100::10" not in n, n          # unused: forgotten
        assert n.get("10.100.0.10", "incomplete") == "incomplete", n
    finally:
        s = g.stop()
    loc = s["local"]
    assert loc["probes"] == 3 and loc["neighbors-expired"] == 2
    # after the probes, resolution by broadcast again: beyond the two
    # gratuitous ARPs (wan0, lan0) and the three probes
    assert loc["arp-requests-out"] >= 2 + 3 + 1
    assert s["ports"]["lan0"]["tx_packets"] > 0          # it was used


# --- neighbor discovery ---------------------------------------------------------

def test_nd_solicitation_advertisement_and_echo(gateway, macs):
    """A neighbor solicitation for the port's global address and one for its
    link-local address (fe80:: + EUI-64 of the MAC) get solicited, override
    router advertisements with our MAC; the host is learned, and pings to
    either address are answered."""
    lan = macs[1]
    ll = eui64_ll(lan)
    r = gateway.run(LEARN, {"lan0": [
        ns(lan, "fd00:100::1"),
        ns(lan, ll, src="fe80::10"),
        ping6(lan, "fd00:100::1"),
        ping6(lan, ll, src="fe80::10"),
    ]})
    nas = [p for p in r.nd["lan0"] if ICMPv6ND_NA in p]
    unsol = [p for p in nas if p[ICMPv6ND_NA].S == 0]
    assert len(unsol) == 1 and unsol[0][IPv6].dst == "ff02::1" and \
        unsol[0][ICMPv6ND_NA].tgt == "fd00:100::1"      # announced at start
    sol = [p for p in nas if p[ICMPv6ND_NA].S == 1]
    assert sorted(p[ICMPv6ND_NA].tgt for p in sol) == sorted(["fd00:100::1", ll])
    for p in sol:
        na = p[ICMPv6ND_NA]
        assert (na.R, na.O) == (1, 1) and p[IPv6].hlim == 255
        assert p[IPv6].src == na.tgt and p[Ether].dst == HOST and p[Ether].src == lan
        assert p[ICMPv6NDOptDstLLAddr].lladdr == lan
        chk = IPv6(raw(p[IPv6]))
        del chk[ICMPv6ND_NA].cksum
        assert IPv6(raw(chk))[ICMPv6ND_NA].cksum == na.cksum
    assert {p[IPv6].dst for p in sol} == {"fd00:100::10", "fe80::10"}
    echoes = [p for p in r.out["lan0"] if ICMPv6EchoReply in p]
    assert sorted((p[IPv6].src, p[IPv6].dst) for p in echoes) == \
        sorted([("fd00:100::1", "fd00:100::10"), (ll, "fe80::10")])
    for p in echoes:
        assert p[Ether].dst == HOST and p[ICMPv6EchoReply].data == bytes(range(56))
        chk = IPv6(raw(p[IPv6]))
        del chk[ICMPv6EchoReply].cksum
        assert IPv6(raw(chk))[ICMPv6EchoReply].cksum == p[ICMPv6EchoReply].cksum
    assert local(r)["echo-replies"] == 2
    assert local(r)["na-out"] == 2 + 2         # two answers, two ports announced
    assert_drops(r, {})


def test_nd_malformed_and_foreign(gateway, macs):
    """Solicitations not from the link (hop limit), with a zero-length
    option or a bad checksum are malformed; one for an address that is not
    ours, and router solicitations, are not ours to answer."""
    from scapy.layers.inet6 import ICMPv6ND_RS
    lan = macs[1]
    badsum = ns(lan, "fd00:100::1")
    badsum[ICMPv6ND_NS].cksum = 0x1234
    r = gateway.run(LEARN, {"lan0": [
        ns(lan, "fd00:100::1", hlim=64),
        ns(lan, "fd00:100::99"),
        ns(lan, "fd00:100::1", slla=None) / Raw(bytes([1, 0, 0, 0, 0, 0, 0, 0])),
        badsum,
        Ether(src=HOST, dst="33:33:00:00:00:02") / IPv6(src="fe80::10", dst="ff02::2", hlim=255) /
        ICMPv6ND_RS(),
    ]})
    assert [p for p in r.nd["lan0"] if ICMPv6ND_NA in p and p[ICMPv6ND_NA].S] == []
    assert_drops(r, {"bad-nd": 3, "nd-other": 2})


# --- ICMP errors ----------------------------------------------------------------

def test_time_exceeded_both_families(gateway, macs):
    lan = macs[1]
    p4 = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8", ttl=1) / \
        UDP(sport=33434, dport=33435) / Raw(b"t" * 30)
    p6 = Ether(src=HOST, dst=lan) / IPv6(src="fd00:100::10", dst="2001:db9::1", hlim=1) / \
        UDP(sport=33434, dport=33435) / Raw(b"t" * 30)
    r = gateway.run(CONFIG, {"lan0": [p4, p6]})
    out = r.out["lan0"]
    assert len(out) == 2
    e4 = [p for p in out if IP in p][0]
    assert e4[Ether].dst == HOST and e4[IP].src == "10.100.0.1" and e4[IP].dst == "10.100.0.10"
    assert (e4[ICMP].type, e4[ICMP].code) == (11, 0) and e4[IP].tos == 0xc0
    assert raw(e4[IPerror]) == raw(p4[IP])                  # quoted whole (< 576)
    e6 = [p for p in out if IPv6 in p][0]
    assert e6[IPv6].src == "fd00:100::1" and e6[IPv6].dst == "fd00:100::10"
    assert e6[ICMPv6TimeExceeded].code == 0
    assert raw(e6[ICMPv6TimeExceeded])[8:] == raw(p6[IPv6])
    assert local(r)["icmp-time-exceeded"] == 2
    assert_drops(r, {"ttl-exceeded": 2})


def test_net_unreachable_and_port_unreachable(gateway, macs):
    lan = macs[1]
    cfg = LEARN.replace("  - { prefix: 0.0.0.0/0, via: 192.168.0.2, dev: wan0 }\n", "") + \
        '  - { prefix: 10.99.0.0/16, via: 192.168.0.2, dev: wan0 }\n'
    cfg = cfg.replace("neighbors:\n", f'neighbors:\n  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}\n')
    pkts = [Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8") / UDP() / Raw(b"a"),
            Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="10.100.0.1") /
            UDP(sport=5000, dport=9999) / Raw(b"b"),
            Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="10.100.0.1") /
            UDP(sport=500, dport=500) / Raw(b"ike"),
            Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="10.100.0.1", proto=132) /
            Raw(b"sctp?")]
    r = gateway.run(cfg, {"lan0": pkts})
    got = sorted((p[ICMP].type, p[ICMP].code, p[IPerror].dst) for p in r.out["lan0"])
    assert got == [(3, 0, "8.8.8.8"), (3, 2, "10.100.0.1"), (3, 3, "10.100.0.1")]
    assert_drops(r, {"no-route": 1, "local": 3})


def test_no_icmp_about_icmp_errors_or_fragments(gateway, macs):
    lan = macs[1]
    err = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8", ttl=1) / \
        ICMP(type=3, code=1) / IPerror(src="8.8.8.8", dst="10.100.0.10") / UDPerror()
    frag = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8", ttl=1, frag=100) / \
        Raw(b"f" * 40)
    r = gateway.run(CONFIG, {"lan0": [err, frag]})
    assert r.out["lan0"] == []
    assert local(r)["icmp-not-sent"] == 2
    assert_drops(r, {"ttl-exceeded": 2})


def test_icmp_rate_limit(gateway, macs):
    """A burst of TTL-expired packets gets at most the bucket's burst (50)
    plus what refills while it is handled; the rest is counted."""
    lan = macs[1]
    n = 400
    p = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8", ttl=1) / UDP() / Raw(b"r")
    r = gateway.run(CONFIG, {"lan0": [p] * n})
    s = local(r)
    sent = len(r.out["lan0"])
    assert sent == s["icmp-time-exceeded"]
    assert 50 <= sent < n
    assert sent + s["icmp-rate-limited"] + s["icmp-lost"] == n
    assert_drops(r, {"ttl-exceeded": n})


# --- MTU of the tunnel ------------------------------------------------------------

def esp_overhead_mtu(suite, port_mtu=1500, outer=20, nat_t=False):
    iv = {"AES-GCM": 8, "AES-CBC": 16}[suite.scapy_crypt]
    align = {"AES-GCM": 4, "AES-CBC": 16}[suite.scapy_crypt]
    over = outer + (8 if nat_t else 0) + 8 + iv + suite.icv_size
    return (port_mtu - over) // align * align - 2


@pytest.mark.parametrize("suite,nat_t", [(GCM128, False), (CBC_SHA256, False), (GCM128, True)],
                         ids=["gcm", "cbc-sha256", "gcm-natt"])
def test_tunnel_mtu_auto(gateway, macs, suite, nat_t):
    """ipsec0's `mtu: auto` is wan0's MTU less the outbound SA's ESP
    overhead.  A DF packet of exactly that size leaves as an ESP packet of
    exactly the port's MTU; one byte more gets ICMP fragmentation needed
    with that MTU (IPv6: packet too big), and nothing leaves for it."""
    wan, lan = macs[0], macs[1]
    t = Tunnel(suite=suite, nat_t=nat_t)
    mtu = esp_overhead_mtu(suite, nat_t=nat_t)
    fit = outbound(4, size=mtu - 28, flags=2)
    big = outbound(4, size=mtu - 27, flags=2, sport=2)
    big6 = outbound(6, size=mtu - 47, sport=3)
    fit6 = outbound(6, size=mtu - 48, sport=4)
    assert len(fit) == mtu and len(big6) == mtu + 1
    r = gateway.run(t.config(), {"lan0": [from_lan(p, lan) for p in (fit, big, big6, fit6)]})
    esp = r.out["wan0"]
    assert len(esp) == 2
    assert all(len(raw(f)) - 14 == 1500 for f in esp)
    opener = t.peer_out()
    assert by_family([opener.open(f)[1] for f in esp]) == \
        by_family([routed_inner(fit), routed_inner(fit6)])
    back = r.out["lan0"]
    assert len(back) == 2
    i4 = [p for p in back if IP in p][0]
    assert (i4[ICMP].type, i4[ICMP].code, i4[ICMP].nexthopmtu) == (3, 4, mtu)
    assert i4[IP].src == "10.100.0.1" and i4[IP].dst == "10.100.0.10"
    assert i4[IPerror].id == 2
    i6 = [p for p in back if IPv6 in p][0]
    assert i6[ICMPv6PacketTooBig].mtu == mtu and i6[IPv6].src == "fd00:100::1"
    assert len(raw(i6[IPv6])) <= 1280
    assert r.stats["interfaces"]["ipsec0"]["drops"]["mtu"] == 2
    assert local(r)["icmp-too-big"] == 2
    assert_drops(r, {"mtu": 2})


def test_fragmented_before_encryption(gateway, macs):
    """IPv4 without DF larger than the tunnel's MTU is fragmented first:
    each fragment is an ESP packet no larger than the port's MTU, and the
    fragments Scapy opens reassemble to the routed packet."""
    from scapy.layers.inet import defragment
    lan = macs[1]
    t = Tunnel(suite=GCM128)
    big = outbound(4, size=1472)                       # 1500 bytes, DF clear
    r = gateway.run(t.config(), {"lan0": [from_lan(big, lan)]})
    esp = r.out["wan0"]
    assert len(esp) == 2 and all(len(raw(f)) - 14 <= 1500 for f in esp)
    opener = t.peer_out()
    frags = [IP(opener.open(f)[1]) for f in esp]
    assert all(f.flags.MF or f.frag for f in frags)
    whole = defragment(frags)
    assert len(whole) == 1
    want = IP(routed_inner(big))
    assert raw(whole[0])[20:] == raw(want)[20:] and whole[0].src == want.src
    assert local(r)["fragments-out"] == 2
    assert_drops(r, {})


def test_port_mtu_too_big_and_fragments(gateway, macs):
    """Plain forwarding to a port with MTU 1280: DF gets ICMP with 1280,
    IPv6 packet too big, no DF is fragmented to 1280."""
    lan = macs[1]
    cfg = CONFIG.replace('wan0: { port: 0, address: [192.168.0.1/24, "2001:db8::1/64"] }',
                         'wan0: { port: 0, address: [192.168.0.1/24, "2001:db8::1/64"], mtu: 1280 }')
    df = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8", flags=2) / \
        UDP() / Raw(b"d" * 1372)
    v6 = Ether(src=HOST, dst=lan) / IPv6(src="fd00:100::10", dst="2001:db9::1") / \
        UDP() / Raw(b"6" * 1352)
    nodf = Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="8.8.8.8", id=77) / \
        UDP() / Raw(bytes(range(256)) * 5 + b"e" * 92)
    r = gateway.run(cfg, {"lan0": [df, v6, nodf]})
    back = r.out["lan0"]
    assert sorted((p[ICMP].type, p[ICMP].code, p[ICMP].nexthopmtu) for p in back if IP in p) == \
        [(3, 4, 1280)]
    assert [p[ICMPv6PacketTooBig].mtu for p in back if IPv6 in p] == [1280]
    from scapy.layers.inet import defragment
    frags = [p[IP] for p in r.out["wan0"]]
    assert len(frags) == 2 and all(len(raw(f)) <= 1280 for f in frags)
    assert all(p[Ether].dst == R2 for p in r.out["wan0"])
    (whole,) = defragment(frags)
    assert raw(whole[UDP]) == raw(nodf[UDP])
    assert_drops(r, {"mtu": 2})


# --- through the tunnel ------------------------------------------------------------

def test_echo_to_inner_address_through_the_tunnel(gateway, macs):
    """A ping from the far side to ipsec0's inner address arrives in ESP and
    its reply leaves in ESP (opened by Scapy)."""
    wan = macs[0]
    t = Tunnel(suite=GCM128)
    cfg = t.config().replace("ipsec0:\n", "ipsec0:\n    address: [172.16.100.1/32]\n", 1)
    req = IP(src=FAR_HOST[4], dst="172.16.100.1") / ICMP(id=5, seq=6) / Raw(b"inner-ping")
    r = gateway.run(cfg, {"wan0": [t.peer_in().frame(req, 1, wan)]})
    (f,) = r.out["wan0"]
    rep = IP(t.peer_out().open(f)[1])
    assert rep.src == "172.16.100.1" and rep.dst == FAR_HOST[4]
    assert rep[ICMP].type == 0 and rep[ICMP].id == 5 and bytes(rep[Raw]) == b"inner-ping"
    assert local(r)["echo-replies"] == 1
    assert_drops(r, {})
