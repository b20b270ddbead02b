"""ESP with two workers: the SAs are shared (librte_ipsec's atomic sequence
numbers, our SA lock around the inner-family switch and the replay window).
wan0 and lan0 are served by different workers, so sealing and opening run
on different lcores at once; IPv4 and IPv6 share each SA."""
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from test_esp_hub import sa

HOST, PEER = "02:00:00:00:01:10", "02:00:00:00:00:02"
K_OUT, K_IN = bytes(range(20)), bytes(range(100, 120))
CONFIG = f"""
ports:
  wan0: {{ port: 0, address: [192.168.0.1/24] }}
  lan0: {{ port: 1, address: [10.100.0.1/24, "fd00:100::1/64"] }}
neighbors:
  - {{ address: 192.168.0.2, lladdr: "{PEER}", dev: wan0 }}
  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}
  - {{ address: "fd00:100::10", lladdr: "{HOST}", dev: lan0 }}
interfaces:
  ipsec0: {{ tunnel: {{ local: 192.168.0.1, remote: 192.168.0.2 }} }}
sas:
  - {{ spi: 0x100, src: 192.168.0.1, dst: 192.168.0.2, interface: ipsec0, aead: aes-gcm-128, key: 0x{K_OUT.hex()} }}
  - {{ spi: 0x200, src: 192.168.0.2, dst: 192.168.0.1, interface: ipsec0, aead: aes-gcm-128, key: 0x{K_IN.hex()} }}
routes:
  - {{ prefix: 10.200.0.0/24, dev: ipsec0 }}
  - {{ prefix: "fd00:200::/64", dev: ipsec0 }}
"""


@pytest.mark.parametrize("lcores", ["0-1", "0@0,1@1,2@1"], ids=["1-worker", "2-workers"])
def test_shared_sas_on_workers(gateway, macs, lcores):
    wan, lan = macs[0], macs[1]
    out_inner = []
    for i in range(200):
        if i % 3:
            out_inner.append(IP(src="10.100.0.10", dst="10.200.0.%d" % (i % 200 + 1)) /
                             UDP(sport=i, dport=9) / Raw(b"v4 %d" % i))
        else:
            out_inner.append(IPv6(src="fd00:100::10", dst="fd00:200::%x" % (i + 1)) /
                             UDP(sport=i, dport=9) / Raw(b"v6 %d" % i))
    peer = sa(0x200, K_IN, "192.168.0.2", "192.168.0.1")
    in_inner, wan_in = [], []
    for i in range(150):
        p = (IP(src="10.200.0.5", dst="10.100.0.10") if i % 2 else
             IPv6(src="fd00:200::5", dst="fd00:100::10")) / UDP(sport=5000, dport=i) / Raw(b"in %d" % i)
        peer.seq_num = i + 1
        in_inner.append(p)
        wan_in.append(Ether(src=PEER, dst=wan) / peer.encrypt(p))
    r = gateway.run(CONFIG, {"lan0": [Ether(src=HOST, dst=lan) / p for p in out_inner],
                             "wan0": wan_in}, lcores=lcores)
    opener = sa(0x100, K_OUT, "192.168.0.1", "192.168.0.2")
    esp = r.out["wan0"]
    assert sorted(f[ESP].seq for f in esp) == list(range(1, len(out_inner) + 1))
    got = sorted(bytes(opener.decrypt(IP(bytes(f[IP])))) for f in esp)

    def routed(p):
        q = p.__class__(bytes(p))
        if IP in q:
            q.ttl -= 1
            q.chksum = None
        else:
            q.hlim -= 1
        return bytes(q.__class__(bytes(q)))
    assert got == sorted(routed(p) for p in out_inner)
    lan_out = sorted(bytes(f.payload) for f in r.out["lan0"])
    assert lan_out == sorted(routed(p) for p in in_inner)
    assert r.stats["totals"]["dropped"] == 0
    s = {x["spi"]: x for x in r.stats["sas"]}
    assert s[0x100]["seq"] == len(out_inner) and s[0x200]["packets"] == len(in_inner)
