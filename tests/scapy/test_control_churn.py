"""Changes under continuous traffic: make-before-break rekey without loss,
and thousands of random changes with nothing crashing or leaking.

            wan0 = net_pcap0 (peer's ESP, looping)     lan0 = net_pcap1 (plain, looping)
  peer      192.168.0.1/24                   [gw]   10.100.0.1/24        host
  .2 (R2)   ipsec0: 192.168.0.1 <-> 192.168.0.2      10.100.0.10
  far side: 10.200.0.0/24 routed into ipsec0

Both ports replay their pcap for ever (net_pcap infinite_rx), so traffic
flows in both directions for the whole test.  The peer's ESP repeats its
sequence numbers on every loop, so the inbound SAs here have anti-replay
off (replay-window 0).  Nothing is captured (the rates would fill the
disk); what was sent is accounted for by the gateway's counters, which
the ESP tests elsewhere tie to the wire.
"""
import random
import time

import pytest

from esp_helpers import CBC_SHA256, GCM128, Peer, SaSpec, Tunnel, from_lan, inbound, outbound

ZERO = lambda d: {k: v for k, v in d.items() if v}   # noqa: E731


def stats(g):
    return g.ok("stats")["stats"]


def sa_fields(spec):
    d = dict(spi=spec.spi, src=spec.src, dst=spec.dst, interface="ipsec0", **{
        k: "0x" + v.hex() for k, v in spec.suite.keys(spec.seed).items()})
    if spec.suite.aead:
        d["aead"] = spec.suite.aead
    else:
        d["enc"], d["auth"] = spec.suite.enc, spec.suite.auth
    d["replay-window"] = 0
    return d


def packets(g, spi, dst):
    return g.ok("sa-get", spi=spi, dst=dst)["sa"]["packets"]


def grows(g, spi, dst, pause=0.2):
    a = packets(g, spi, dst)
    time.sleep(pause)
    return packets(g, spi, dst) > a


@pytest.mark.parametrize("suite", [GCM128, CBC_SHA256], ids=lambda s: s.id)
@pytest.mark.parametrize("lcores", ["0-1", "0@0,1@1,2@1"], ids=["1worker", "2workers"])
def test_rekey_under_traffic_loses_nothing(live, macs, suite, lcores):
    """New inbound SA first (the old one still receives), then the
    interface's outbound SA switched in one step, then the old ones
    deleted: no packet is dropped anywhere along the way."""
    wan, lan = macs[0], macs[1]
    t = Tunnel(suite=suite, replay_window=0)
    new_in = SaSpec(0x2001, t.remote, t.local, suite, seed=7)
    new_out = SaSpec(0x1001, t.local, t.remote, suite, seed=8)
    old_peer, new_peer = t.peer_in(), Peer(new_in)
    # the peer sends on its old SA (it switches only when told, below: the
    # loop carries both, and the new SA's packets are unknown until added)
    wan_in = [old_peer.frame(inbound(4, sport=i), i + 1, wan) for i in range(6)]
    new_frames = [new_peer.frame(inbound(4, sport=50 + i), i + 1, wan) for i in range(6)]
    lan_in = [from_lan(outbound(4, sport=i), lan) for i in range(8)]
    g = live(t.config(), inputs={"wan0": wan_in + new_frames, "lan0": lan_in},
             loop=("wan0", "lan0"), lcores=lcores, capture=False)
    assert grows(g, 0x1000, t.remote) and grows(g, 0x2000, t.local)

    g.ok("sa-add", **sa_fields(new_in))           # make ...
    time.sleep(0.05)
    d1 = stats(g)["drops"]
    assert grows(g, 0x2001, t.local) and grows(g, 0x2000, t.local)
    g.ok("sa-add", **sa_fields(new_out))          # ... switch ...
    time.sleep(0.05)
    a = packets(g, 0x1000, t.remote)
    assert grows(g, 0x1001, t.remote)
    assert packets(g, 0x1000, t.remote) == a, "the old outbound SA is still used"
    assert g.ok("interface-list")["interfaces"][0]["outbound_sa"] == 0x1001
    g.ok("sa-del", spi=0x1000, dst=t.remote)      # ... break
    d2 = stats(g)["drops"]
    # from the new inbound SA's arrival to here, not one drop of any kind
    assert ZERO({k: d2[k] - d1[k] for k in d1}) == {}
    assert grows(g, 0x1001, t.remote) and grows(g, 0x2000, t.local)
    g.ok("sa-del", spi=0x2000, dst=t.local)       # the peer's old SA goes
    time.sleep(0.1)
    s = g.stop()
    ifc, lan0, wan0 = s["interfaces"]["ipsec0"], s["ports"]["lan0"], s["ports"]["wan0"]
    # outbound: every packet from lan0 went into ipsec0 and out of wan0
    assert ZERO(ifc["drops"]) == {} and ZERO(lan0["drops"]) == {}
    assert lan0["rx_packets"] == ifc["tx_packets"] == wan0["tx_packets"] > 0
    # inbound: what dropped is only the old SA's packets after it went
    # (and the new SA's before it came)
    assert set(ZERO(wan0["drops"])) <= {"unknown-spi"}
    assert ifc["rx_packets"] == lan0["tx_packets"] > 0


def test_random_changes_under_traffic(live, macs):
    """Thousands of random adds, updates and deletes of SAs, interfaces,
    routes and neighbors while both directions flow (under the sanitizers
    in the ASan build).  Each reply must be what a model of the state
    predicts; at the end the state equals the model, and a deleted SA
    delivers nothing."""
    rng = random.Random(4303)
    wan, lan = macs[0], macs[1]
    t = Tunnel(replay_window=0)
    peer = t.peer_in()
    g = live(t.config(),
             inputs={"wan0": [peer.frame(inbound(4, sport=i), i + 1, wan) for i in range(4)],
                     "lan0": [from_lan(outbound(4, sport=i), lan) for i in range(4)]},
             loop=("wan0", "lan0"), lcores="0@0,1@1,2@1", capture=False)
    sas = {(0x1000, t.remote): "ipsec0", (0x2000, t.local): "ipsec0"}
    base_sas = set(sas)
    ifaces = {"ipsec0"}
    routes = set()
    neighbors = set()
    suites = [GCM128, CBC_SHA256]

    def sa_req(spi, out, iface, n):
        local = "192.168.0.1"
        remote = "192.168.0.2" if iface == "ipsec0" else f"192.168.0.{10 + n}"
        src, dst = (local, remote) if out else (remote, local)
        return SaSpec(spi, src, dst, rng.choice(suites), seed=spi & 0xff), iface

    for step in range(2500):
        op = rng.randrange(10)
        if op < 4:                                    # SA add / delete
            iface = rng.choice(sorted(ifaces))
            n = int(iface[5:])
            out = rng.random() < 0.5
            spi = rng.randrange(0x3000, 0x3040)
            spec, _ = sa_req(spi, out, iface, n)
            key = (spi, spec.dst)
            if key in sas and key not in base_sas:
                g.ok("sa-del", spi=spi, dst=spec.dst)
                del sas[key]
            elif key not in sas:
                f = sa_fields(spec)
                f["interface"] = iface
                r = g.req("sa-add", **f)
                assert r["ok"], (step, r)
                sas[key] = iface
        elif op == 4:                                 # SA lifetime update
            key = rng.choice(sorted(sas))
            g.ok("sa-update", spi=key[0], dst=key[1],
                 lifetime={"soft": {"bytes": rng.randrange(1 << 40)}, "hard": {"bytes": 0}})
        elif op == 5:                                 # interface add / delete
            n = rng.randrange(1, 6)
            name = f"ipsec{n}"
            if name in ifaces:
                g.ok("interface-del", name=name)
                ifaces.discard(name)
                sas = {k: v for k, v in sas.items() if v != name}
                routes.difference_update({r for r in routes if r[1] == name})
            else:
                g.ok("interface-add", name=name,
                     tunnel={"local": "192.168.0.1", "remote": f"192.168.0.{10 + n}"},
                     address=[f"172.17.{n}.1/32"], peer=f"172.17.{n}.2")
                ifaces.add(name)
        elif op < 8:                                  # route add / delete
            pfx = f"10.{rng.randrange(1, 40)}.0.0/16"
            hit = [r for r in routes if r[0] == pfx]
            if hit:
                g.ok("route-del", prefix=pfx)
                routes.discard(hit[0])
            else:
                dev = rng.choice(sorted(ifaces) + ["wan0"])
                if dev == "wan0":
                    g.ok("route-add", prefix=pfx, via="192.168.0.2", dev="wan0")
                else:
                    g.ok("route-add", prefix=pfx, dev=dev)
                routes.add((pfx, dev))
        else:                                         # neighbor add / delete
            a = f"192.168.0.{100 + rng.randrange(20)}"
            if a in neighbors:
                g.ok("neighbor-del", address=a, dev="wan0")
                neighbors.discard(a)
            else:
                g.ok("neighbor-add", address=a, lladdr=f"02:00:00:00:01:{rng.randrange(256):02x}",
                     dev="wan0")
                neighbors.add(a)

    listed = {(s["spi"], s["dst"]) for s in g.ok("sa-list")["sas"]}
    assert listed == set(sas)
    assert {i["name"] for i in g.ok("interface-list")["interfaces"]} == ifaces
    static = {(r["prefix"], r["dev"]) for r in g.ok("route-list")["routes"] if r["type"] == "static"}
    assert static == routes | {("10.200.0.0/24", "ipsec0"), ("fd00:200::/64", "ipsec0")}
    assert {n["address"] for n in g.ok("neighbor-list")["neighbors"]} >= neighbors

    # a deleted SA delivers nothing
    assert grows(g, 0x2000, t.local)
    g.ok("sa-del", spi=0x2000, dst=t.local)
    time.sleep(0.05)
    a = stats(g)["ports"]["lan0"]["tx_packets"]
    time.sleep(0.3)
    s = stats(g)
    assert s["ports"]["lan0"]["tx_packets"] == a
    assert s["ports"]["wan0"]["drops"]["unknown-spi"] > 0
    g.stop()



def test_deleted_neighbor_is_not_used_under_traffic(live, macs):
    """Workers keep their neighbor lookups in a cache: a neighbor deleted
    while traffic flows through it is not used a moment longer (the
    traffic waits for resolution instead), and one added back is used
    again."""
    from net import CONFIG
    from test_forward import v4
    lan = macs[1]
    frames = [v4(lan, "10.100.0.10", f"203.0.113.{i}") for i in range(1, 9)]
    g = live(CONFIG, inputs={"lan0": frames}, loop=("lan0",), capture=False)

    def sent():
        return stats(g)["ports"]["wan0"]["tx_packets"]

    def moving():
        a = sent()
        time.sleep(0.2)
        return sent() > a

    assert moving()
    g.ok("neighbor-del", address="192.168.0.2", dev="wan0")
    time.sleep(0.05)
    assert not moving(), "packets still go to a deleted neighbor"
    assert stats(g)["ports"]["wan0"]["tx_local"] > 0, "no ARP request for it"
    g.ok("neighbor-add", address="192.168.0.2", lladdr="02:00:00:00:00:22", dev="wan0")
    time.sleep(0.05)
    assert moving()
    g.stop()
