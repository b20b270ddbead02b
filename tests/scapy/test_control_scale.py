"""Many SAs and interfaces through the control socket and the file: the
direct sa-add / sa-del / sa-flush paths keep the running state right, the
capacities (--max-interfaces, --max-sas) are respected with a clear error,
and a file of a thousand tunnels loads.  Speed is bench/'s business
(bench/run --only sa,tunnels); these assert behaviour only.

            wan0 = net_pcap0                            lan0 = net_pcap1
  peers     192.168.0.1/24                   [gw]   10.100.0.1/24
  .2 (R2)   ipsec0: 192.168.0.1 <-> 192.168.0.2
  10.x      ipsecK: 192.168.0.1 <-> 10.<K>                (the file test)
"""
import json

import pytest

from conftest import eal_args, run_ipsecgw
from esp_helpers import Tunnel

KEY = "0x" + bytes(range(1, 21)).hex()


def sa_in(spi, **kw):
    return dict(spi=spi, src="192.168.0.2", dst="192.168.0.1", interface="ipsec0",
                aead="aes-gcm-128", key=KEY, **kw)


def sa_out(spi, **kw):
    return dict(spi=spi, src="192.168.0.1", dst="192.168.0.2", interface="ipsec0",
                aead="aes-gcm-128", key=KEY, **kw)


def spis(g, **filt):
    return sorted(s["spi"] for s in g.ok("sa-list", **filt)["sas"])


@pytest.fixture
def gw(live):
    t = Tunnel(with_out_sa=False, with_in_sa=False)
    return live(t.config(), capture=False)


def test_many_sa_adds_and_deletes_keep_state(gw):
    mon = gw.connect()
    assert gw.raw('{"op": "subscribe"}', mon) == {"ok": True}
    n = 1500
    want = set()
    for i in range(n):
        r = gw.ok("sa-add", **sa_in(0x10000 + i))
        assert r["sa"]["spi"] == 0x10000 + i and r["sa"]["direction"] == "in"
        assert "key" not in json.dumps(r)
        want.add(0x10000 + i)
    # outbound SAs: the newest is the interface's
    for spi in (0x500, 0x501):
        gw.ok("sa-add", **sa_out(spi))
        want.add(spi)
    assert gw.ok("interface-list")["interfaces"][0]["outbound_sa"] == 0x501
    # a duplicate is refused and changes nothing
    r = gw.req("sa-add", **sa_in(0x10000 + 7))
    assert not r["ok"] and "exists" in r["error"]
    # the same rules and messages as the file: no such interface, a
    # direction that matches neither way of the tunnel
    r = gw.req("sa-add", **dict(sa_in(0x99999), interface="nope"))
    assert not r["ok"] and "no interface named 'nope'" in r["error"]
    r = gw.req("sa-add", **dict(sa_in(0x99999), src="192.168.0.9"))
    assert not r["ok"] and "matches neither direction" in r["error"]
    r = gw.req("sa-add", **dict(sa_in(0x99999), seq=5))
    assert not r["ok"] and "this SA is inbound" in r["error"]
    assert spis(gw) == sorted(want)

    # delete every third one, from the front, the back and the middle
    gone = [0x10000 + i for i in range(0, n, 3)]
    for spi in gone[::2] + gone[1::2][::-1]:
        gw.ok("sa-del", spi=spi, dst="192.168.0.1")
        want.discard(spi)
    assert spis(gw) == sorted(want)
    for spi in gone[:20]:
        r = gw.req("sa-get", spi=spi, dst="192.168.0.1")
        assert not r["ok"] and "no SA" in r["error"]
    for spi in sorted(want)[:50]:
        assert gw.ok("sa-get", spi=spi, dst=("192.168.0.2" if spi < 0x10000 else "192.168.0.1"))
    inbound = gw.ok("interface-list")["interfaces"][0]["inbound_sas"]
    assert sorted(inbound) == sorted(s for s in want if s >= 0x10000)
    # deleting the interface's outbound SA hands it the other one
    gw.ok("sa-del", spi=0x501, dst="192.168.0.2")
    want.discard(0x501)
    assert gw.ok("interface-list")["interfaces"][0]["outbound_sa"] == 0x500
    # a deleted SPI can be added again
    gw.ok("sa-add", **sa_in(gone[0]))
    want.add(gone[0])
    assert spis(gw) == sorted(want)

    # flush: the count, and nothing left
    assert gw.ok("sa-flush", interface="ipsec0")["deleted"] == len(want)
    assert spis(gw) == []
    assert gw.ok("interface-list")["interfaces"][0]["outbound_sa"] is None

    # every change was announced
    s, f = mon
    s.settimeout(10)
    added = deleted = 0
    while deleted < n + 3:
        ev = json.loads(f.readline())
        added += ev["event"] == "sa-added"
        deleted += ev["event"] == "sa-deleted"
    assert added == n + 3 and deleted == n + 3
    st = gw.stop()
    assert st["sas"] == []


def test_capacities_are_respected_with_a_clear_error(live):
    t = Tunnel(with_out_sa=False, with_in_sa=False)
    g = live(t.config(), capture=False, extra=["--max-interfaces", "3", "--max-sas", "8"])
    for i in range(8):
        g.ok("sa-add", **sa_in(0x100 + i))
    r = g.req("sa-add", **sa_in(0x200))
    assert not r["ok"] and "no room: at most 8 SAs" in r["error"] and "--max-sas" in r["error"]
    assert spis(g) == [0x100 + i for i in range(8)]
    g.ok("sa-del", spi=0x103, dst="192.168.0.1")
    g.ok("sa-add", **sa_in(0x200))
    assert len(spis(g)) == 8

    g.ok("interface-add", name="ipsec1", tunnel={"local": "192.168.0.1", "remote": "192.168.0.3"})
    g.ok("interface-add", name="ipsec2", tunnel={"local": "192.168.0.1", "remote": "192.168.0.4"})
    r = g.req("interface-add", name="ipsec3",
              tunnel={"local": "192.168.0.1", "remote": "192.168.0.5"})
    assert not r["ok"] and "room for 3" in r["error"] and "--max-interfaces" in r["error"]
    names = [f["name"] for f in g.ok("interface-list")["interfaces"]]
    assert names == ["ipsec0", "ipsec1", "ipsec2"]
    g.ok("interface-del", name="ipsec1")
    g.ok("interface-add", name="ipsec3", tunnel={"local": "192.168.0.1", "remote": "192.168.0.5"})
    g.stop()


def tunnels_config(n):
    lines = ["ports:",
             '  wan0: { port: 0, address: [192.168.0.1/24] }',
             '  lan0: { port: 1, address: [10.100.0.1/24] }',
             "neighbors:",
             '  - { address: 192.168.0.254, lladdr: "02:00:00:00:00:fe", dev: wan0 }',
             "interfaces:"]
    for k in range(n):
        lines.append(f"  ipsec{k}: {{ tunnel: {{ local: 192.168.0.1, remote: 10.{k >> 8}.{k & 255}.1 }},"
                     f" peer: 172.16.{k >> 8}.{k & 255} }}")
    lines.append("sas:")
    for k in range(n):
        r = f"10.{k >> 8}.{k & 255}.1"
        lines.append(f"  - {{ spi: {0x1000000 + k}, src: 192.168.0.1, dst: {r}, reqid: {k + 1},"
                     f" aead: aes-gcm-128, key: {KEY} }}")
        # bound by its tunnel's addresses, not by name
        lines.append(f"  - {{ spi: {0x2000000 + k}, src: {r}, dst: 192.168.0.1,"
                     f" aead: aes-gcm-128, key: {KEY}, replay-window: 0 }}")
    lines.append("routes:")
    for k in range(n):
        lines.append(f"  - {{ prefix: 16.{k >> 8}.{k & 255}.0/24, dev: ipsec{k} }}")
    lines.append("  - { prefix: 0.0.0.0/0, via: 192.168.0.254, dev: wan0 }")
    return "\n".join(lines) + "\n"


def test_a_thousand_tunnels_load(live, tmp_path):
    n = 1200
    cfg = tunnels_config(n)
    # the default room (256 interfaces) is too small: one clear message
    path = tmp_path / "many.yaml"
    path.write_text(cfg)
    p = run_ipsecgw(eal_args("scale-small") + ["--vdev", "net_null0", "--vdev", "net_null1",
                                                 "--", "-f", str(path)])
    assert p.returncode != 0
    assert "1200 interfaces: there is room for 256 (ipsecgw --max-interfaces)" in p.stderr

    g = live(cfg, capture=False, extra=["--max-interfaces", str(n), "--max-sas", str(2 * n)])
    ifs = g.ok("interface-list")["interfaces"]
    assert len(ifs) == n
    by = {f["name"]: f for f in ifs}
    assert by["ipsec1000"]["outbound_sa"] == 0x1000000 + 1000
    assert by["ipsec1000"]["inbound_sas"] == [0x2000000 + 1000]
    assert by["ipsec1000"]["reqid"] == 1001
    assert len(g.ok("sa-list")["sas"]) == 2 * n
    routes = {r["prefix"]: r for r in g.ok("route-list")["routes"]}
    assert routes["16.3.232.0/24"]["dev"] == "ipsec1000"
    assert routes["172.16.3.232/32"]["dev"] == "ipsec1000" and routes["172.16.3.232/32"]["type"] == "peer"
    # one more tunnel over the socket, and its SAs
    g.ok("interface-del", name="ipsec5")
    g.ok("interface-add", name="ipsec5", tunnel={"local": "192.168.0.1", "remote": "10.0.5.1"})
    assert g.ok("interface-list")["interfaces"][-1]["reqid"] == 6     # the lowest free one
    g.ok("sa-add", spi=0x3000000, src="10.0.5.1", dst="192.168.0.1", interface="ipsec5",
         aead="aes-gcm-128", key=KEY)
    # the file's rules and messages for one more interface and route
    r = g.req("interface-add", name="wan0")
    assert not r["ok"] and "interfaces.wan0: the name is already used by ports.wan0" in r["error"]
    r = g.req("interface-add", name="x", reqid=7)
    assert not r["ok"] and "reqid 7 is already used by interfaces.ipsec6 (assigned)" in r["error"]
    r = g.req("route-add", prefix="17.0.0.0/24", dev="nope")
    assert not r["ok"] and "dev 'nope' is neither a port nor an interface" in r["error"]
    r = g.req("route-add", prefix="17.0.0.0/24", dev="ipsec5", via="10.0.5.1")
    assert not r["ok"] and "via is only for routes through a port" in r["error"]
    r = g.req("route-add", prefix="16.0.7.0/24", dev="ipsec5")
    assert not r["ok"] and "already routed" in r["error"]
    g.ok("route-add", prefix="17.0.0.0/24", dev="ipsec5")
    g.ok("route-add", prefix="10.0.5.0/24", via="192.168.0.254", dev="wan0")
    routes = {r["prefix"]: r for r in g.ok("route-list")["routes"]}
    assert routes["17.0.0.0/24"]["dev"] == "ipsec5" and routes["17.0.0.0/24"]["type"] == "static"
    assert routes["10.0.5.0/24"]["via"] == "192.168.0.254"
    assert len(routes) == len(g.ok("route-list")["routes"])
    brief = g.ok("stats", brief=True)["stats"]
    assert "interfaces" not in brief and "sas" not in brief and "wan0" in brief["ports"]
    st = g.stop()
    assert len(st["interfaces"]) == n and len(st["sas"]) == 2 * n - 2 + 1
