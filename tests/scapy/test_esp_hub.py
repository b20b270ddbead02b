"""Hub and spoke: ESP from one spoke, opened on ipsec0, is routed into
ipsec1 and sealed again for the other spoke; Scapy plays both spokes.

   spoke A 192.168.0.2 ==ESP== [wan0 192.168.0.1: ipsec0 | ipsec1] ==ESP== spoke B 192.168.0.3
   (site 10.201.0.0/24)                  hub                        (site 10.202.0.0/24)
"""
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
K = {n: bytes(range(n, n + 20)) for n in (1, 2, 3, 4)}

CONFIG = f"""
ports:
  wan0: {{ port: 0, address: [192.168.0.1/24] }}
  lan0: {{ port: 1, address: [10.100.0.1/24] }}
neighbors:
  - {{ address: 192.168.0.2, lladdr: "{A}", dev: wan0 }}
  - {{ address: 192.168.0.3, lladdr: "{B}", dev: wan0 }}
interfaces:
  ipsec0: {{ tunnel: {{ local: 192.168.0.1, remote: 192.168.0.2 }} }}
  ipsec1: {{ tunnel: {{ local: 192.168.0.1, remote: 192.168.0.3 }} }}
sas:
  - {{ spi: 0x1001, src: 192.168.0.2, dst: 192.168.0.1, interface: ipsec0, aead: aes-gcm-128, key: 0x{K[1].hex()} }}
  - {{ spi: 0x1002, src: 192.168.0.1, dst: 192.168.0.2, interface: ipsec0, aead: aes-gcm-128, key: 0x{K[2].hex()} }}
  - {{ spi: 0x2001, src: 192.168.0.3, dst: 192.168.0.1, interface: ipsec1, aead: aes-gcm-128, key: 0x{K[3].hex()} }}
  - {{ spi: 0x2002, src: 192.168.0.1, dst: 192.168.0.3, interface: ipsec1, aead: aes-gcm-128, key: 0x{K[4].hex()} }}
routes:
  - {{ prefix: 10.201.0.0/24, dev: ipsec0 }}
  - {{ prefix: 10.202.0.0/24, dev: ipsec1 }}
"""


def sa(spi, key, src, dst):
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key,
                               tunnel_header=IP(src=src, dst=dst))


def test_hub_and_spoke(gateway, macs):
    wan = macs[0]
    a_out = sa(0x1001, K[1], "192.168.0.2", "192.168.0.1")
    b_in = sa(0x2002, K[4], "192.168.0.1", "192.168.0.3")
    inner = [IP(src="10.201.0.5", dst="10.202.0.9", ttl=10) / UDP(sport=1000 + i, dport=53) /
             Raw(b"spoke to spoke %d" % i) for i in range(5)]
    frames = []
    for i, p in enumerate(inner):
        a_out.seq_num = i + 1
        frames.append(Ether(src=A, dst=wan) / a_out.encrypt(p))
    r = gateway.run(CONFIG, {"wan0": frames})
    out = r.out["wan0"]
    assert len(out) == len(inner)
    for i, (f, p) in enumerate(zip(out, inner)):
        assert f[Ether].dst == B and f[IP].dst == "192.168.0.3" and f[ESP].spi == 0x2002
        assert f[ESP].seq == i + 1
        got = b_in.decrypt(IP(bytes(f[IP])))
        want = IP(bytes(p))
        want.ttl -= 1                     # the hub routed it once
        want.chksum = None
        assert bytes(got) == bytes(IP(bytes(want)))
    i0, i1 = r.stats["interfaces"]["ipsec0"], r.stats["interfaces"]["ipsec1"]
    assert i0["rx_packets"] == len(inner) and i1["tx_packets"] == len(inner)
    assert r.stats["totals"]["dropped"] == 0
