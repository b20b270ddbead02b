"""A table of a few thousand routes and hundreds of neighbors (each IPv4
/32 in its own /24, so the IPv4 table needs a tbl8 group per route; IPv6 /128s
and /64s): every route is probed once, in one run, and every probe leaves
with the MAC of its own next hop."""
import ipaddress

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from net import forwarded

N_NEIGH = 500
N_V4 = 2500
N_V6 = 1500
HOST = "02:00:00:00:01:10"


def nh4(i):
    return str(ipaddress.IPv4Address("192.168.0.0") + 2 + i % N_NEIGH)   # 192.168.0.2 .. 192.168.1.245


def nh6(i):
    return "2001:db8::%x" % (2 + i % N_NEIGH)


def mac(i):
    return "02:00:00:00:%02x:%02x" % ((2 + i % N_NEIGH) >> 8, (2 + i % N_NEIGH) & 0xff)


def dst4(i):
    return "%d.%d.%d.1" % (20 + i // 65536, (i // 256) % 256, i % 256)


def dst6(i):
    return "2001:db8:%x:%x::1" % (0x100 + i // 2, i % 2 * 0x8000)


def config():
    lines = ["ports:",
             '  wan0: { port: 0, address: [192.168.0.1/22, "2001:db8::1/64"] }',
             '  lan0: { port: 1, address: [10.100.0.1/24, "fd00:100::1/64"] }',
             "neighbors:",
             f'  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}']
    for i in range(N_NEIGH):
        lines.append(f'  - {{ address: {nh4(i)}, lladdr: "{mac(i)}", dev: wan0 }}')
        lines.append(f'  - {{ address: "{nh6(i)}", lladdr: "{mac(i)}", dev: wan0 }}')
    lines.append("routes:")
    for i in range(N_V4):
        lines.append(f"  - {{ prefix: {dst4(i)}/32, via: {nh4(i)}, dev: wan0 }}")
    for i in range(N_V6):
        plen = 128 if i % 2 else 64
        net = ipaddress.ip_network(f"{dst6(i)}/{plen}", strict=False)
        lines.append(f'  - {{ prefix: "{net}", via: "{nh6(i)}", dev: wan0 }}')
    return "\n".join(lines) + "\n"


def test_thousands_of_routes(gateway, macs):
    wan, lan = macs[0], macs[1]
    p4 = [Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst=dst4(i)) / UDP(sport=i % 65536, dport=9)
          for i in range(N_V4)]
    p6 = [Ether(src=HOST, dst=lan) / IPv6(src="fd00:100::10", dst=dst6(i)) / UDP(sport=i, dport=9)
          for i in range(N_V6)]
    # probes that hit no route: the /32 is not its /24
    miss = [Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst=dst4(i)[:-1] + "2") / UDP()
            for i in range(0, N_V4, 97)]
    r = gateway.run(config(), {"lan0": p4 + miss + p6}, idle_ms=300)
    got = [bytes(p) for p in r.out["wan0"]]
    got4 = [b for b in got if b[12:14] == b"\x08\x00"]
    got6 = [b for b in got if b[12:14] == b"\x86\xdd"]
    want4 = [forwarded(p, wan, mac(i)) for i, p in enumerate(p4)]
    want6 = [forwarded(p, wan, mac(i)) for i, p in enumerate(p6)]
    assert len(got4) == len(want4) and len(got6) == len(want6)
    bad = [i for i, (g, w) in enumerate(zip(got4, want4)) if g != w]
    assert not bad, f"{len(bad)} IPv4 probes wrong, first {dst4(bad[0])}: dst MAC {Ether(got4[bad[0]]).dst}"
    bad = [i for i, (g, w) in enumerate(zip(got6, want6)) if g != w]
    assert not bad, f"{len(bad)} IPv6 probes wrong, first {dst6(bad[0])}: dst MAC {Ether(got6[bad[0]]).dst}"
    r.assert_only_drop("no-route", len(miss), "lan0")
