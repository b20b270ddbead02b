"""End to end: the other seeds' examples with real hosts behind each gateway
(netns.py builds the namespaces; test_e2e_ipsecif.py has the ipsecif(4)
one).  Each example pair runs on the same topology, with its own addresses:

  ns hx          ns ga                         ns wire                         ns gb          ns hy
  Host_X ~~~ lan0 [gateway A] wan0 ~~~ a  (bridge, or router)  b ~~~ wan0 [gateway B] lan0 ~~~ Host_Y

  example              A's LAN / wan0                     wire                  B's wan0 / LAN
  FreeBSD if_ipsec(4)  10.3.0.0/24 / 192.168.0.3/24       bridge                192.168.0.5/24 / 10.5.0.0/24
  OpenBSD sec(4)       10.0.0.0/24 / 192.0.2.8/24         router .1 and .1      198.51.100.14/24 / 10.1.0.0/16
  NetBSD FAQ VPN       10.0.1.0/24 / 20.0.0.1/24          bridge                20.0.0.2/24 / 10.0.2.0/24

  Each host is the gateway's LAN address + 1, its default router the
  gateway.  sec(4)'s gateways are on two subnets: the wire namespace
  routes between them with the default routers of the example files
  (192.0.2.1, 198.51.100.1).  The files: config/examples/ as they are
  (sec, FAQ), or config/e2e/ (if_ipsec: the seed has no LANs, the e2e
  copy adds one behind each end).  No static neighbors: ARP finds them.
"""
import collections
import ipaddress

import pytest
import yaml

from conftest import ROOT
from netns import Capture, Side, TwoGateways, net, ping, requires_netns  # noqa: F401

pytestmark = requires_netns

EXAMPLES = ROOT / "config" / "examples"
E2E = ROOT / "config" / "e2e"

# (id, gateway A's file, gateway B's file, the far end's inner address for
# each host to ping, or None where the example gives the tunnel none)
CASES = [
    ("freebsd-if_ipsec", E2E / "if_ipsec-freebsd-a.yaml", E2E / "if_ipsec-freebsd-b.yaml",
     ("172.16.0.5", "172.16.0.3")),
    ("openbsd-sec", EXAMPLES / "sec-openbsd-customer.yaml", EXAMPLES / "sec-openbsd-provider.yaml",
     ("169.254.229.41", "169.254.229.42")),
    ("netbsd-faq-vpn", EXAMPLES / "faq-netbsd-vpn-gw1.yaml", EXAMPLES / "faq-netbsd-vpn-gw2.yaml",
     (None, None)),
]


def _ip(prefixed):
    return str(ipaddress.ip_interface(prefixed).ip)


@pytest.mark.parametrize("name,file_a,file_b,inner", CASES, ids=[c[0] for c in CASES])
def test_hosts_behind_each_gateway_reach_each_other(net, name, file_a, file_b, inner):
    a, b = Side.from_config(file_a.read_text()), Side.from_config(file_b.read_text())
    topo = TwoGateways(net, a, b)
    cap = Capture(net, "wire", topo.wire_if)
    ga, gb = topo.start(file_a.read_text(), file_b.read_text())
    ping(net, "hx", b.host_addr())
    ping(net, "hy", a.host_addr())
    ping(net, "hx", b.gw_addr())              # B's LAN address, through the tunnel
    if inner[0]:
        ping(net, "hx", inner[0])             # B's inner address
        ping(net, "hy", inner[1])             # A's inner address
    sa, sb = ga.stop(), gb.stop()
    frames = cap.stop()

    # A's side of the wire: ESP between the tunnel's ends, ARP between A
    # and its neighbor there (B, or the router), nothing else
    wan_a, wan_b = _ip(a.wan), _ip(b.wan)
    arp_peer = _ip(a.router) if a.router else wan_b
    esp = collections.Counter()
    for f in frames:
        if f.ethertype == 0x0806:
            assert {f.src, f.dst} <= {wan_a, arp_peer}, f.summary()
            continue
        assert f.spi is not None, f"not ESP on the wire: {f.summary()}"
        assert {f.src, f.dst} == {wan_a, wan_b}, f.summary()
        esp[(f.src, f.spi)] += 1
    for st, gw in ((sa, ga), (sb, gb)):
        for s in st["sas"]:
            assert s["auth_failed"] == 0 and s["replay"] == 0, s
            assert s["packets"] >= 6, f"{gw.dir.name}: SA {s['spi']} carried {s['packets']}"
            if s["direction"] == "out":
                assert s["packets"] == esp[(s["src"], s["spi"])], s
        for reason in ("auth-failed", "replay", "bad-esp", "unknown-spi", "no-sa"):
            assert st["drops"][reason] == 0, f"{gw.dir.name} drops[{reason}]"


def _load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("name", ["ipsecif-netbsd-a", "ipsecif-netbsd-b", "if_ipsec-freebsd-a",
                                  "if_ipsec-freebsd-b"])
def test_e2e_config_keeps_the_seed_example(name):
    """config/e2e/ changes only what its header says: the tunnel, inner
    addresses, SAs and wan0 are the seed example's, and its routes are a
    superset of the example's."""
    e2e, seed = _load(E2E / f"{name}.yaml"), _load(EXAMPLES / f"{name}.yaml")
    assert e2e["interfaces"] == seed["interfaces"]
    assert e2e["sas"] == seed["sas"]
    assert e2e["ports"]["wan0"] == seed["ports"]["wan0"]
    assert e2e["ports"]["lan0"]["port"] == seed["ports"]["lan0"]["port"]
    assert set(seed["ports"]["lan0"].get("address", [])) <= set(e2e["ports"]["lan0"]["address"])
    routes = [tuple(sorted(r.items())) for r in e2e["routes"]]
    assert all(tuple(sorted(r.items())) in routes for r in seed["routes"])
    assert "neighbors" not in e2e
