"""The test network shared by the forwarding and drop tests.

            wan0 = net_pcap0                         lan0 = net_pcap1
  routers   192.168.0.1/24, 2001:db8::1/64   [gw]   10.100.0.1/24, fd00:100::1/64   hosts
  .2 .3 .4  2001:db8::2                             10.100.0.10, fd00:100::10
"""
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

R2, R3, R4 = "02:00:00:00:00:02", "02:00:00:00:00:03", "02:00:00:00:00:04"
HOST = "02:00:00:00:01:10"

CONFIG = f"""
ports:
  wan0: {{ port: 0, address: [192.168.0.1/24, "2001:db8::1/64"] }}
  lan0: {{ port: 1, address: [10.100.0.1/24, "fd00:100::1/64"] }}
neighbors:
  - {{ address: 192.168.0.2, lladdr: "{R2}", dev: wan0 }}
  - {{ address: 192.168.0.3, lladdr: "{R3}", dev: wan0 }}
  - {{ address: 192.168.0.4, lladdr: "{R4}", dev: wan0 }}
  - {{ address: "2001:db8::2", lladdr: "{R2}", dev: wan0 }}
  - {{ address: "2001:db8::3", lladdr: "{R3}", dev: wan0 }}
  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}
  - {{ address: "fd00:100::10", lladdr: "{HOST}", dev: lan0 }}
routes:
  - {{ prefix: 0.0.0.0/0, via: 192.168.0.2, dev: wan0 }}
  - {{ prefix: 10.0.0.0/8, via: 192.168.0.3, dev: wan0 }}
  - {{ prefix: 10.1.0.0/16, via: 192.168.0.4, dev: wan0 }}
  - {{ prefix: 10.1.2.0/24, via: 10.100.0.10, dev: lan0 }}
  - {{ prefix: 10.1.2.3/32, via: 192.168.0.2, dev: wan0 }}
  - {{ prefix: 172.16.0.0/12, via: 192.168.0.99, dev: wan0 }}
  - {{ prefix: 198.18.0.0/15, dev: lan0 }}
  - {{ prefix: "::/0", via: "2001:db8::2", dev: wan0 }}
  - {{ prefix: "2001:db8:aa::/48", via: "fd00:100::10", dev: lan0 }}
  - {{ prefix: "2001:db8:bb::/48", via: "2001:db8::3", dev: wan0 }}
  - {{ prefix: "2001:db8:bb:cc::/64", via: "2001:db8::2", dev: wan0 }}
"""


def forwarded(pkt, src_mac, dst_mac):
    """The bytes a router sends for `pkt`: new MACs, TTL / hop limit - 1,
    IPv4 checksum recomputed (by Scapy, not by us), nothing else changed."""
    p = Ether(bytes(pkt))
    p[Ether].src, p[Ether].dst = src_mac, dst_mac
    if IP in p:
        p[IP].ttl -= 1
        p[IP].chksum = None
    else:
        p[IPv6].hlim -= 1
    return bytes(Ether(bytes(p)))
