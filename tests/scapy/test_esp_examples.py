"""The seed examples of config/examples/ run back to back: gateway A's ESP
output is gateway B's input, and back.

  host a --lan0-- [A] --wan0-- ESP --wan0-- [B] --lan0-- host b

For each pair the test reads both files, picks a host on each LAN, and
runs A with host a's packets on lan0; A's wan0 output must decrypt with
Scapy (A's outbound SA) and, with the Ethernet destination set to B's
wan0, B must deliver the packets to host b; B's answers go back to A the
same way.  The example files have no static neighbors (and two have no
LAN), so the test runs modified copies, never the files themselves:
  - a neighbor on wan0 for the next hop towards the tunnel remote (the
    remote itself when on-link, else the default route's router);
  - a neighbor on lan0 for the LAN host;
  - if_ipsec(4) has no LAN behind its hosts: lan0 gets a made-up
    10.3.0.1/24 (A) and 10.5.0.1/24 (B), each side routes the other's
    into ipsec0;
  - ipsecif(4) routes only 10.200.0.1/32 (B's own address) and
    10.100.0.1/32 into the tunnel, as its seed does; the copy adds the
    whole far LAN (the file's comment suggests 10.200.0.0/24 itself).
"""
import ipaddress
import re
from pathlib import Path

import pytest
import yaml
from scapy.compat import raw
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP
from scapy.layers.l2 import Ether

from esp_helpers import Peer, SaSpec, Suite, payload, routed_inner
from net import forwarded

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
PAIRS = [("ipsecif-netbsd-a", "ipsecif-netbsd-b"),
         ("if_ipsec-freebsd-a", "if_ipsec-freebsd-b"),
         ("sec-openbsd-customer", "sec-openbsd-provider"),
         ("faq-netbsd-vpn-gw1", "faq-netbsd-vpn-gw2")]
MADE_UP_LAN = {"if_ipsec-freebsd-a": "10.3.0.1/24", "if_ipsec-freebsd-b": "10.5.0.1/24"}
NEXT_HOP_MAC = "02:00:00:00:aa:01"      # the router on wan0 (any: B is fed directly)
HOST_MAC = {0: "02:00:00:00:0a:0a", 1: "02:00:00:00:0b:0b"}


class Side:
    """One gateway of a pair: its file, the modified text, and its facts."""

    def __init__(self, name, index):
        self.name = name
        self.text = (EXAMPLES / f"{name}.yaml").read_text()
        self.cfg = yaml.load(self.text, Loader=yaml.BaseLoader)   # all scalars as text
        self.index = index
        self.iface, ic = next(iter(self.cfg["interfaces"].items()))
        self.local, self.remote = ic["tunnel"]["local"], ic["tunnel"]["remote"]
        lan = self.cfg["ports"]["lan0"].get("address") or []
        lan = [lan] if isinstance(lan, str) else lan
        v4 = [a for a in lan if ":" not in a]
        self.lan_addr = v4[0] if v4 else MADE_UP_LAN[name]
        self.lan_net = ipaddress.ip_interface(self.lan_addr).network
        self.host = str(self.lan_net.network_address + 10)
        self.host_mac = HOST_MAC[index]

    def next_hop(self):
        """The neighbor that the route to the tunnel remote goes through."""
        remote = ipaddress.ip_address(self.remote)
        for a in self.cfg["ports"]["wan0"]["address"]:
            if remote in ipaddress.ip_interface(a).network:
                return self.remote
        best = None
        for r in self.cfg.get("routes") or []:
            net = ipaddress.ip_network(r["prefix"])
            if remote in net and r.get("via") and (best is None or net.prefixlen > best[0].prefixlen):
                best = (net, r["via"])
        assert best, f"{self.name}: no route to the tunnel remote {self.remote}"
        return best[1]

    def routes_into_tunnel(self, addr):
        a = ipaddress.ip_address(addr)
        best = None
        for r in self.cfg.get("routes") or []:
            net = ipaddress.ip_network(r["prefix"])
            if a in net and (best is None or net.prefixlen > best[0].prefixlen):
                best = (net, r["dev"])
        for p in ("wan0", "lan0"):
            for x in [self.lan_addr] if p == "lan0" else self.cfg["ports"][p]["address"]:
                net = ipaddress.ip_interface(x).network
                if a in net and (best is None or net.prefixlen > best[0].prefixlen):
                    best = (net, p)
        return best is not None and best[1] == self.iface

    def config(self, other):
        """The file's text with what the back-to-back run needs appended."""
        text = self.text
        assert list(self.cfg)[-1] == "routes", f"{self.name}: routes is not the last section"
        assert "neighbors" not in self.cfg, f"{self.name}: has neighbors; extend the test"
        if self.name in MADE_UP_LAN:
            text, n = re.subn(r"lan0: \{ port: 1 \}", f"lan0: {{ port: 1, address: [{self.lan_addr}] }}", text)
            assert n == 1
        if not self.routes_into_tunnel(other.host):
            text += f"  - {{ prefix: {other.lan_net}, dev: {self.iface} }}   # added by the test\n"
        text += f"""
neighbors:                                         # added by the test
  - {{ address: {self.next_hop()}, lladdr: "{NEXT_HOP_MAC}", dev: wan0 }}
  - {{ address: {self.host}, lladdr: "{self.host_mac}", dev: lan0 }}
"""
        return text

    def out_peer(self):
        """Scapy with this side's outbound SA (algorithms and keys from the file)."""
        for s in self.cfg["sas"]:
            if s["src"] == self.local and s["dst"] == self.remote:
                suite = Suite(aead=s.get("aead"), enc=s.get("enc"), auth=s.get("auth"))
                spec = SaSpec(int(s["spi"], 0), s["src"], s["dst"], suite, seed=0)
                keys = {k: bytes.fromhex(s[k][2:]) for k in ("key", "enc-key", "auth-key") if k in s}
                return Peer(spec, keys=keys)
        raise AssertionError(f"{self.name}: no outbound SA")


def twice_routed(p, mac, host_mac):
    """What the far host gets: routed by A (into the tunnel) and by B."""
    return forwarded(Ether(src=NEXT_HOP_MAC, dst=mac) / IP(routed_inner(p)), mac, host_mac)


def host_packets(src, dst, n=5):
    return [IP(src=src.host, dst=dst.host, ttl=64, id=100 + i) /
            UDP(sport=4000 + i, dport=7) / payload(20 + 150 * i) for i in range(n)]


@pytest.mark.parametrize("a_name,b_name", PAIRS, ids=[p[0].rsplit("-", 1)[0] for p in PAIRS])
def test_example_pair_back_to_back(gateway, macs, a_name, b_name):
    wan, lan = macs[0], macs[1]
    a, b = Side(a_name, 0), Side(b_name, 1)
    cfg_a, cfg_b = a.config(b), b.config(a)

    # host a -> A -> ESP
    ab = host_packets(a, b)
    r1 = gateway.run(cfg_a, {"lan0": [Ether(src=a.host_mac, dst=lan) / p for p in ab]})
    esp_ab = r1.out["wan0"]
    assert len(esp_ab) == len(ab), f"A sent {len(esp_ab)} ESP packets; drops " \
        f"{ {k: v for k, v in r1.stats['drops'].items() if v} }"
    opener = a.out_peer()
    for i, f in enumerate(esp_ab):
        o = f[IP]
        assert (o.src, o.dst, o.proto) == (a.local, a.remote, 50)
        assert f[ESP].seq == i + 1
        assert opener.open(f)[1] == routed_inner(ab[i])

    # ESP -> B -> host b, and host b -> B -> ESP
    ba = host_packets(b, a)
    fed = [Ether(raw(f)) for f in esp_ab]
    for f in fed:
        f[Ether].dst = wan
    r2 = gateway.run(cfg_b, {"wan0": fed, "lan0": [Ether(src=b.host_mac, dst=lan) / p for p in ba]})
    want_b = [twice_routed(p, lan, b.host_mac) for p in ab]
    assert [raw(f) for f in r2.out["lan0"]] == want_b, \
        f"B delivered {len(r2.out['lan0'])} of {len(ab)}; drops " \
        f"{ {k: v for k, v in r2.stats['drops'].items() if v} }"
    esp_ba = r2.out["wan0"]
    assert len(esp_ba) == len(ba)

    # ESP -> A -> host a
    fed = [Ether(raw(f)) for f in esp_ba]
    for f in fed:
        f[Ether].dst = wan
    r3 = gateway.run(cfg_a, {"wan0": fed})
    want_a = [twice_routed(p, lan, a.host_mac) for p in ba]
    assert [raw(f) for f in r3.out["lan0"]] == want_a, \
        f"A delivered {len(r3.out['lan0'])} of {len(ba)}; drops " \
        f"{ {k: v for k, v in r3.stats['drops'].items() if v} }"
    for r in (r1, r2, r3):
        assert r.stats["totals"]["dropped"] == 0
