"""Many tunnels at once, their packets interleaved one by one: the case the
workers gather per tunnel (outbound per interface, inbound per SA),
look up together (the SAD in bulk) and prefetch.  Scapy plays every
peer; each tunnel's packets must come out whole, in their order, with
their own SA's sequence numbers, and the strays among them (an unknown
SPI, a broken ICV) dropped under their reasons.

   peer k 192.168.1.k ==ESP== [wan0 192.168.0.1: ipsec<k>] -- lan0 10.100.0.1 -- host 10.100.0.10
   (site 10.50.k.0/24)
"""
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw

N = 12
PER = 6
R = "02:00:00:00:00:fe"
HOST = "02:00:00:00:01:10"


def key(k, d):
    return bytes((k * 7 + d * 3 + i) & 0xff for i in range(20))


def spi_in(k):
    return 0x5000 + k


def spi_out(k):
    return 0x6000 + k


def peer(k):
    return f"192.168.1.{k + 1}"


CONFIG = "\n".join(
    ["ports:",
     "  wan0: { port: 0, address: [192.168.0.1/16] }",
     "  lan0: { port: 1, address: [10.100.0.1/24] }",
     "neighbors:",
     f'  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}'] +
    [f'  - {{ address: {peer(k)}, lladdr: "{R}", dev: wan0 }}' for k in range(N)] +
    ["interfaces:"] +
    [f"  ipsec{k}: {{ tunnel: {{ local: 192.168.0.1, remote: {peer(k)} }} }}" for k in range(N)] +
    ["sas:"] +
    [f"  - {{ spi: {spi_in(k)}, src: {peer(k)}, dst: 192.168.0.1, interface: ipsec{k}, "
     f"aead: aes-gcm-128, key: 0x{key(k, 0).hex()} }}" for k in range(N)] +
    [f"  - {{ spi: {spi_out(k)}, src: 192.168.0.1, dst: {peer(k)}, interface: ipsec{k}, "
     f"aead: aes-gcm-128, key: 0x{key(k, 1).hex()} }}" for k in range(N)] +
    ["routes:"] +
    [f"  - {{ prefix: 10.50.{k}.0/24, dev: ipsec{k} }}" for k in range(N)]) + "\n"


def sa(spi, k, d, src, dst):
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key(k, d),
                               tunnel_header=IP(src=src, dst=dst))


def inner(src, dst, k, j):
    return IP(src=src, dst=dst, ttl=20) / UDP(sport=1000 + k, dport=2000 + j) / \
        Raw(b"tunnel %d packet %d" % (k, j) + bytes(k * 3))


def test_interleaved_tunnels_inbound(gateway, macs):
    wan, lan = macs[0], macs[1]
    seal = {k: sa(spi_in(k), k, 0, peer(k), "192.168.0.1") for k in range(N)}
    frames, want = [], {k: [] for k in range(N)}
    for j in range(PER):
        for k in range(N):
            p = inner(f"10.50.{k}.9", "10.100.0.10", k, j)
            seal[k].seq_num = j + 1
            frames.append(Ether(src=R, dst=wan) / seal[k].encrypt(p))
            want[k].append(p)
    # strays in the middle of a burst: an SPI nobody has, a broken ICV
    stray = sa(0x7777, 0, 0, peer(0), "192.168.0.1")
    stray.seq_num = 1
    frames.insert(5, Ether(src=R, dst=wan) / stray.encrypt(inner("10.50.0.9", "10.100.0.10", 0, 99)))
    seal[3].seq_num = 100
    bad = bytearray(bytes(Ether(src=R, dst=wan) / seal[3].encrypt(inner("10.50.3.9", "10.100.0.10", 3, 99))))
    bad[-1] ^= 1
    frames.insert(9, Ether(bytes(bad)))

    r = gateway.run(CONFIG, {"wan0": frames})
    got = {k: [] for k in range(N)}
    for f in r.out["lan0"]:
        assert f[Ether].dst == HOST
        got[f[UDP].sport - 1000].append(f[IP])
    for k in range(N):
        assert len(got[k]) == PER, f"tunnel {k}: {len(got[k])} of {PER}"
        for g, p in zip(got[k], want[k]):
            w = IP(bytes(p))
            w.ttl -= 1
            w.chksum = None
            assert bytes(g) == bytes(IP(bytes(w)))
        s = r.stats["interfaces"][f"ipsec{k}"]
        assert s["rx_packets"] == PER
    d = r.stats["ports"]["wan0"]["drops"]
    assert d["unknown-spi"] == 1
    assert r.stats["interfaces"]["ipsec3"]["drops"]["auth-failed"] == 1
    assert r.stats["totals"]["dropped"] == 2


def test_interleaved_tunnels_outbound(gateway, macs):
    wan, lan = macs[0], macs[1]
    frames, want = [], {k: [] for k in range(N)}
    for j in range(PER):
        for k in range(N):
            p = inner("10.100.0.10", f"10.50.{k}.9", k, j)
            frames.append(Ether(src=HOST, dst=lan) / p)
            want[k].append(p)
    r = gateway.run(CONFIG, {"lan0": frames})
    opened = {k: sa(spi_out(k), k, 1, "192.168.0.1", peer(k)) for k in range(N)}
    got = {k: [] for k in range(N)}
    for f in r.out["wan0"]:
        k = f[ESP].spi - 0x6000
        assert 0 <= k < N and f[IP].dst == peer(k) and f[Ether].dst == R
        got[k].append((f[ESP].seq, opened[k].decrypt(IP(bytes(f[IP])))))
    for k in range(N):
        assert [s for s, _ in got[k]] == list(range(1, PER + 1)), f"tunnel {k}: sequence numbers"
        for (_, g), p in zip(got[k], want[k]):
            w = IP(bytes(p))
            w.ttl -= 1
            w.chksum = None
            assert bytes(g) == bytes(IP(bytes(w)))
        assert r.stats["interfaces"][f"ipsec{k}"]["tx_packets"] == PER
    assert r.stats["totals"]["dropped"] == 0
