"""End to end: NetBSD ipsecif(4)'s example topology with real Linux hosts in
network namespaces and two ipsecgw gateways (netns.py builds it).

  ns hx                ns ga                       ns wire                 ns gb                ns hy
  Host_X               gateway A                   (bridge br0,            gateway B            Host_Y
  10.100.0.2/24        lan0 10.100.0.1/24           tcpdump here)          lan0 10.200.0.1/24   10.200.0.2/24
  fd00:100::2/64       fd00:100::1/64                                      fd00:200::1/64       fd00:200::2/64
  gw .1, ::1     eth0 ~~~ lan0 [ipsecgw] wan0 ~~~ a  br0  b ~~~ wan0 [ipsecgw] lan0 ~~~ eth0 gw .1, ::1
                            192.168.0.1/24                       192.168.0.2/24
                            ipsec0 172.16.100.1  <== ESP ==>  ipsec0 172.16.200.1
                            SPI 10000 A->B, 10001 B->A (aes-gcm-128)

  ~~~ veth pairs; a gateway's ends are net_af_packet ports (wan0 port 0, lan0
  port 1); in the last test A's lan0 is net_tap instead.  Hosts' links have
  the default MTU of 1500.  No static neighbors anywhere: hosts and gateways
  find each other with ARP and neighbor discovery.

Configurations: config/e2e/ipsecif-netbsd-{a,b}.yaml (the seed's example
plus routes to the far LANs and the LANs' IPv6 prefixes), or the same built
with ipsecctl commands that follow the seed's ifconfig / setkey / route
lines.  docs/walkthrough.md runs the first test by hand.
"""
import collections
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT
from netns import (Capture, Netns, NsGateway, Side, TwoGateways, net, ping,  # noqa: F401
                   requires_netns, tcp_transfer)
from test_ipsecctl_live import NETBSD_A, ports_only, words

pytestmark = requires_netns

E2E = ROOT / "config" / "e2e"
CONFIG_A = E2E / "ipsecif-netbsd-a.yaml"
CONFIG_B = E2E / "ipsecif-netbsd-b.yaml"
CTL = Path(os.environ.get("IPSECCTL", BIN.parent / "ipsecctl"))
WAN_A, WAN_B = "192.168.0.1", "192.168.0.2"
SPI_AB, SPI_BA = 10000, 10001
MB = 1 << 20

# Gateway B's steps, the mirror of NETBSD_A (the seed's lines on NetBSD_B).
NETBSD_B = [
    "interface create ipsec0",
    "interface ipsec0 tunnel 192.168.0.2 192.168.0.1",
    "interface ipsec0 inet 172.16.200.1/32 172.16.100.1",
    "interface ipsec0 -link0 -link1 link2",
    "sa add 192.168.0.1 192.168.0.2 esp 10000 aead aes-gcm-128 "
    "0x0101010101010101010101010101010101010101",
    "sa add 192.168.0.2 192.168.0.1 esp 10001 aead aes-gcm-128 "
    "0x0202020202020202020202020202020202020202",
    "route add 10.100.0.1 172.16.200.1",
]
# Beyond the seed: the whole far LAN, both families (as config/e2e/ does).
LANS_A = ["route add -net 10.200.0.0/24 172.16.100.1", "route add fd00:200::/64 dev ipsec0"]
LANS_B = ["route add -net 10.100.0.0/24 172.16.200.1", "route add fd00:100::/64 dev ipsec0"]


def ctl(gw, *argv):
    """ipsecctl -S <gw's socket> ARGV (from the root namespace: the socket
    is a file)."""
    if not CTL.exists():
        pytest.fail(f"{CTL} not built")
    p = subprocess.run([str(CTL), "-S", gw.sock, *argv], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, f"ipsecctl {' '.join(argv)}: exit {p.returncode}\n{p.stderr}"
    return p.stdout


def sides():
    return Side.from_config(CONFIG_A.read_text()), Side.from_config(CONFIG_B.read_text())


def mac_of(net, short, ifname):
    return json.loads(net.ip(short, "-j", "link", "show", "dev", ifname).stdout)[0]["address"]


def ping_across(net, v6=True):
    ping(net, "hx", "10.200.0.2")
    ping(net, "hy", "10.100.0.2")
    if v6:
        ping(net, "hx", "fd00:200::2")
        ping(net, "hy", "fd00:100::2")


def transfer(net, nbytes, addr="10.200.0.2"):
    secs, sent, got = tcp_transfer(net, "hx", "hy", addr, nbytes)
    assert got == sent, f"Host_Y got {got}, Host_X sent {sent}"
    return secs


def path_mtu(net, short, addr):
    """The path MTU the host's kernel learned for addr (None: none)."""
    out = net.ip(short, "route", "get", addr).stdout.split()
    return int(out[out.index("mtu") + 1]) if "mtu" in out else None


def assert_no_esp_errors(*stats):
    for st in stats:
        for sa in st["sas"]:
            assert sa["auth_failed"] == 0 and sa["replay"] == 0, sa
        for reason in ("auth-failed", "replay", "bad-esp", "unknown-spi", "bad-tunnel-source",
                       "no-sa", "crypto-failed", "no-room", "tunnel-loop"):
            assert st["drops"][reason] == 0, f"drops[{reason}] = {st['drops'][reason]}"
            for name, i in st["interfaces"].items():
                assert i["drops"][reason] == 0, f"{name} drops[{reason}] = {i['drops'][reason]}"


# -- the example configured from YAML; one topology for the tests below --------------

class Run:
    pass


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Host_X -- A -- wire -- B -- Host_Y from config/e2e/, a capture on the
    wire from before the gateways start.  The tests share it, in order;
    the last two stop it."""
    net = Netns(tmp_path_factory.mktemp("ipsecif"))
    try:
        r = Run()
        r.net = net
        r.topo = TwoGateways(net, *sides())
        r.capture = Capture(net, "wire", r.topo.wire_if)
        r.a, r.b = r.topo.start(CONFIG_A.read_text(), CONFIG_B.read_text())
        r.sent = 0                  # bytes the transfers sent through the tunnel
        r.final = None
        yield r
    finally:
        net.close()


def stop(r):
    """Stop both gateways (they check their exit) and the capture, once;
    the kernel's counters of the links on both sides of the wire with
    them."""
    if r.final is None:
        r.final = "failed"
        link = {end: r.net.link_stats(*end.split(":"))
                for end in ("ga:wan0", "wire:a", "wire:b", "gb:wan0")}
        r.final = (r.a.stop(), r.b.stop(), r.capture.stop(), link)
    assert r.final != "failed", "stopping the gateways or the capture failed (see the test before)"
    return r.final


def test_hosts_ping_each_other_ipv4(run):
    ping(run.net, "hx", "10.200.0.2")
    ping(run.net, "hy", "10.100.0.2")


def test_hosts_ping_each_other_ipv6_inside_the_ipv4_tunnel(run):
    ping(run.net, "hx", "fd00:200::2")
    ping(run.net, "hy", "fd00:100::2")


@pytest.mark.parametrize("addr", ["10.100.0.1", "fd00:100::1", "172.16.100.1",
                                  "10.200.0.1", "fd00:200::1", "172.16.200.1"])
def test_host_x_pings_the_gateways_own_addresses(run, addr):
    ping(run.net, "hx", addr)


def test_neighbors_were_learned(run):
    """ARP and ND found Host_X and gateway B; ipsecctl shows them."""
    ping(run.net, "hx", "10.200.0.2")
    ping(run.net, "hx", "fd00:200::2")
    got = json.loads(ctl(run.a, "-j", "show", "neighbors"))
    got = got["neighbors"] if isinstance(got, dict) else got
    seen = {(n["address"], n["dev"]): n for n in got}
    hx_mac = mac_of(run.net, "hx", "eth0")
    gb_mac = mac_of(run.net, "gb", "wan0")
    for addr, dev, mac in (("10.100.0.2", "lan0", hx_mac), ("fd00:100::2", "lan0", hx_mac),
                           (WAN_B, "wan0", gb_mac)):
        assert (addr, dev) in seen, f"{addr} on {dev} not among A's neighbors: {got}"
        n = seen[(addr, dev)]
        assert n["lladdr"].lower() == mac and not n.get("static"), n
    assert "10.100.0.2" in ctl(run.a, "show", "neighbors")


def test_tcp_50mb_host_x_to_host_y_with_path_mtu_discovery(run):
    """50 MB of random data arrive intact with the hosts' MTU at 1500: the
    hosts learn the tunnel's smaller MTU from gateway A's ICMP
    fragmentation-needed."""
    secs = transfer(run.net, 50 * MB)
    run.sent += 50 * MB
    mtu = path_mtu(run.net, "hx", "10.200.0.2")
    assert mtu is not None and 1280 <= mtu < 1500, \
        f"Host_X learned no path MTU below 1500 for 10.200.0.2: {mtu}"
    print(f"50 MB in {secs:.2f} s ({50 * 8 / secs:.0f} Mbit/s), path MTU {mtu}")


def test_tcp_over_ipv6_inside_the_tunnel_with_path_mtu_discovery(run):
    """The same over IPv6 (packet too big), 5 MB."""
    transfer(run.net, 5 * MB, addr="fd00:200::2")
    run.sent += 5 * MB
    mtu = path_mtu(run.net, "hx", "fd00:200::2")
    assert mtu is not None and 1280 <= mtu < 1500, \
        f"Host_X learned no path MTU below 1500 for fd00:200::2: {mtu}"


def test_live_counters_through_ipsecctl(run):
    """`ipsecctl -j show stats` while the gateways run: SA 10000 sealed on
    A, opened on B, and the ping's three packets more on each after it."""
    def sa_packets():
        a = json.loads(ctl(run.a, "-j", "show", "stats"))
        b = json.loads(ctl(run.b, "-j", "show", "stats"))
        a, b = a.get("stats", a), b.get("stats", b)
        assert_no_esp_errors(a, b)
        out, inb = NsGateway.sa(a, SPI_AB), NsGateway.sa(b, SPI_AB)
        assert (out["direction"], inb["direction"]) == ("out", "in")
        return out["packets"], inb["packets"]
    before = sa_packets()
    ping(run.net, "hx", "10.200.0.2")
    after = sa_packets()
    assert after[0] - before[0] >= 3 and after[1] - before[1] >= 3, (before, after)
    sas = ctl(run.a, "show", "sas")
    assert "10000" in sas and "10001" in sas and "0101010101" not in sas


def test_wire_carries_only_esp_and_arp(run):
    """What crossed the bridge: ESP between the tunnel's ends and ARP
    between them, nothing else, and no frame over the wire's MTU."""
    if run.final is None:
        ping(run.net, "hx", "10.200.0.2")
    _, _, frames, _ = stop(run)
    assert frames, "nothing captured on the wire"
    kinds = collections.Counter()
    for f in frames:
        if f.ethertype == 0x0806:
            assert {f.src, f.dst} <= {WAN_A, WAN_B}, f.summary()
            kinds["arp"] += 1
            continue
        assert f.proto == 50, f"not ESP on the wire: {f.summary()}"
        assert {f.src, f.dst} == {WAN_A, WAN_B}, f.summary()
        assert f.wirelen <= 1514, f"over the wire's MTU of 1500: {f.summary()}"
        kinds["esp"] += 1
    assert kinds["esp"] > 0 and kinds["arp"] > 0, kinds


def test_counters_agree_with_the_wire_and_each_other(run):
    """What A sealed crossed the wire (the capture on br0), and B opened
    it; the other way too.  The kernel may lose frames on the way, and
    says where: a veth counts what its peer's backlog refused as its own
    tx drop; a frame that reached a gateway's veth end but not the
    gateway was lost in the af_packet ring (the kernel's rx count of the
    end less the port's).  No authentication or replay failure anywhere."""
    if run.final is None:
        ping(run.net, "hx", "10.200.0.2")
    a, b, frames, link = stop(run)
    esp = collections.Counter((f.src, f.spi) for f in frames if f.spi is not None)
    for tx, rx, txg, rxg, src, spi in ((a, b, "ga", "gb", WAN_A, SPI_AB),
                                       (b, a, "gb", "ga", WAN_B, SPI_BA)):
        sealed = NsGateway.sa(tx, spi)
        opened = NsGateway.sa(rx, spi)
        on_wire = esp[(src, spi)]
        assert sealed["direction"] == "out" and opened["direction"] == "in"
        assert tx["interfaces"]["ipsec0"]["tx_packets"] == sealed["packets"]
        assert sealed["seq"] == sealed["packets"]
        # before the wire: what the bridge's port refused
        lost_tx = link[f"{txg}:wan0"]["tx"]["dropped"]
        assert on_wire <= sealed["packets"] <= on_wire + lost_tx, \
            f"{txg} sealed {sealed['packets']} with SPI {spi}, the wire carried {on_wire}"
        # after it: what rx's veth end refused, and what rx's ring could not
        # hold (and the few frames from before rx started)
        wire_end = "wire:b" if rxg == "gb" else "wire:a"
        missed = link[wire_end]["tx"]["dropped"] + \
            link[f"{rxg}:wan0"]["rx"]["packets"] - rx["ports"]["wan0"]["rx_packets"]
        assert 0 <= missed <= 10 + on_wire // 100, f"{rxg} missed {missed} frames"
        assert on_wire - missed <= opened["packets"] <= on_wire, \
            f"{rxg} opened {opened['packets']} of {on_wire} with SPI {spi} (missed {missed})"
        assert rx["interfaces"]["ipsec0"]["rx_packets"] == opened["packets"]
        print(f"SPI {spi}: {txg} sealed {sealed['packets']} (lost before the wire {lost_tx}), "
              f"wire {on_wire}, {rxg} opened {opened['packets']} (missed {missed})")
    if run.sent:
        # what the hosts sent too big for the tunnel: dropped and answered
        assert a["interfaces"]["ipsec0"]["drops"]["mtu"] >= 1
        assert a["local"]["icmp-too-big"] >= 1
    assert a["interfaces"]["ipsec0"]["tx_bytes"] >= run.sent
    assert b["interfaces"]["ipsec0"]["rx_bytes"] >= run.sent * 0.99
    assert_no_esp_errors(a, b)


# -- the same built with ipsecctl ---------------------------------------------------------

def test_gateways_configured_with_ipsecctl(net):
    """Both gateways start with their ports only; then the seed's ifconfig /
    setkey / route lines, through ipsecctl, and routes to the far LANs."""
    topo = TwoGateways(net, *sides())
    a, b = topo.start(ports_only(CONFIG_A), ports_only(CONFIG_B))
    for gw, steps in ((a, NETBSD_A + LANS_A), (b, NETBSD_B + LANS_B)):
        for line in steps:
            ctl(gw, *words(line))
    ping_across(net)
    ping(net, "hx", "172.16.200.1")
    transfer(net, 5 * MB)
    sa, sb = a.stop(), b.stop()
    assert a.sa(sa, SPI_AB)["packets"] > 3000 and b.sa(sb, SPI_AB)["packets"] > 3000
    assert_no_esp_errors(sa, sb)


# -- gateway A's LAN port on net_tap --------------------------------------------------------

def test_lan_port_on_net_tap(net):
    """Gateway A's lan0 is net_tap: A makes the tap in its namespace, the
    test moves the kernel side into Host_X's namespace (as eth0), and the
    PMD keeps reading and writing it there."""
    topo = TwoGateways(net, *sides(), lan_a="tap")
    a, b = topo.start(CONFIG_A.read_text(), CONFIG_B.read_text())
    ping_across(net)
    ping(net, "hx", "10.100.0.1")
    ping(net, "hx", "fd00:100::1")
    transfer(net, 10 * MB)
    sa, sb = a.stop(), b.stop()
    assert sa["ports"]["lan0"]["device"].startswith("net_tap")
    assert sa["ports"]["lan0"]["rx_packets"] > 7000
    assert_no_esp_errors(sa, sb)
