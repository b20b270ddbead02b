"""route-add and route-del take a direct path (dataplane/ctl.c): the one
route is checked against the running state, the FIB is changed for that
prefix only, and the running configuration is updated in place.  These
tests hold it to what the whole-configuration commit did: the same
route-list, the same refusals with the same messages, the precedence of
own addresses, peers and connected prefixes, an index of the routes that
survives reloads and interface-del, and a FIB that forwards by it.

  host 10.100.0.10 --- lan0 10.100.0.1/24 [gw] wan0 192.168.0.1/24 --- R2 .2
  ipsec0: tunnel 192.168.0.1 -> 192.168.0.2, no SA (what is routed into it
          is dropped as no-sa), address 172.16.9.1/32, peer 172.16.9.2

lan0 replays packets to 10.60.7.5 for ever, so that the FIB's answer for
that address can be watched in the counters while routes come and go.
"""
import time

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from net import HOST, R2

BASE = f"""
ports:
  wan0: {{ port: 0, address: [192.168.0.1/24] }}
  lan0: {{ port: 1, address: [10.100.0.1/24] }}
neighbors:
  - {{ address: 192.168.0.2, lladdr: "{R2}", dev: wan0 }}
  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}
interfaces:
  ipsec0:
    tunnel: {{ local: 192.168.0.1, remote: 192.168.0.2 }}
    address: [172.16.9.1/32]
    peer: 172.16.9.2
routes:
  - {{ prefix: 10.50.0.0/16, via: 192.168.0.2, dev: wan0 }}
"""

PROBE = "10.60.7.5"


def start(live, macs, config=BASE):
    probes = [Ether(src=HOST, dst=macs[1]) / IP(src="10.100.0.10", dst=PROBE) / UDP(sport=1000 + i, dport=9)
              for i in range(16)]
    return live(config, inputs={"lan0": probes}, loop=("lan0",), capture=False)


def rt(i):
    """Route i of the batch: /24s through R2 and /25s into ipsec0."""
    if i % 2:
        return dict(prefix=f"10.61.{i // 2}.0/24", via="192.168.0.2", dev="wan0")
    return dict(prefix=f"10.62.{i // 2}.0/25", dev="ipsec0")


RT = [rt(i) for i in range(300)]


def wanted(i):
    return (RT[i]["prefix"], RT[i]["dev"], RT[i].get("via"))


def routes(g):
    return {r["prefix"]: r for r in g.ok("route-list")["routes"]}


def static(g):
    return {(r["prefix"], r["dev"], r.get("via")) for r in g.ok("route-list")["routes"]
            if r["type"] == "static"}


def counters(g):
    s = g.ok("stats")["stats"]
    return (s["ports"]["wan0"]["tx_packets"], s["ports"]["lan0"]["drops"].get("no-route", 0),
            s["interfaces"]["ipsec0"]["drops"].get("no-sa", 0))


def grows(g, which, what, n=200, timeout=20.0):
    """Wait until counter `which` (0 forwarded on wan0, 1 no-route on lan0,
    2 no-sa on ipsec0) has grown by n, and the other two have stood still
    meanwhile (up to what was in flight when the route changed)."""
    first = counters(g)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        base = counters(g)
        if base[which] - first[which] > 64:
            break
    else:
        raise AssertionError(f"{what}: counters {first} -> {counters(g)}")
    while time.monotonic() < deadline:
        now = counters(g)
        if now[which] - base[which] >= n:
            others = [now[i] - base[i] for i in range(3) if i != which]
            assert others == [0, 0], f"{what}: the probe went elsewhere too: {base} -> {now}"
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: counters {base} -> {counters(g)}")


def test_route_ops_follow_the_fib(live, macs):
    g = start(live, macs)
    grows(g, 1, "no route at first")
    g.ok("route-add", prefix="10.60.7.0/24", via="192.168.0.2", dev="wan0")
    grows(g, 0, "routed to R2")
    # a shorter route into ipsec0 changes nothing for the probe ...
    g.ok("route-add", prefix="10.60.0.0/16", dev="ipsec0")
    grows(g, 0, "the /24 still wins")
    # ... until the /24 goes: then the /16 takes over
    g.ok("route-del", prefix="10.60.7.0/24")
    grows(g, 2, "into ipsec0 by the /16")
    g.ok("route-add", prefix="10.60.7.0/24", via="192.168.0.2", dev="wan0")
    grows(g, 0, "routed to R2 again")
    g.ok("route-del", prefix="10.60.0.0/16")
    g.ok("route-del", prefix="10.60.7.0/24")
    grows(g, 1, "no route again")
    # a default route, and a /32 inside the /24
    g.ok("route-add", prefix="0.0.0.0/0", dev="ipsec0")
    grows(g, 2, "the default route")
    g.ok("route-add", prefix=f"{PROBE}/32", via="192.168.0.2", dev="wan0")
    grows(g, 0, "the /32")
    g.ok("route-del", prefix=PROBE)
    grows(g, 2, "the default route again")
    g.ok("route-del", prefix="0.0.0.0/0")
    grows(g, 1, "nothing left")
    g.stop()


def test_route_ops_keep_state(live, macs, tmp_path):
    g = start(live, macs)
    want = {("10.50.0.0/16", "wan0", "192.168.0.2")}
    for i in range(300):
        g.ok("route-add", **RT[i])
        want.add(wanted(i))
    # BSD "route add DEST GATEWAY": no dev, found from the gateway
    g.ok("route-add", prefix="10.64.0.0/16", via="172.16.9.1")
    want.add(("10.64.0.0/16", "ipsec0", None))
    assert static(g) == want

    # refusals, word for word what the whole-configuration commit said
    n = len(want)
    for fields, error in [
        (dict(prefix="10.61.1.0/24", dev="ipsec0"),
         "request:1:1: 10.61.1.0/24 is already routed (route-del it first)"),
        (dict(prefix="10.50.0.0/16", via="192.168.0.2"),
         "request:1:1: 10.50.0.0/16 is already routed (route-del it first)"),
        (dict(prefix="10.63.0.0/16", dev="nope0"),
         f"request:1:1: routes[{n}]: dev 'nope0' is neither a port nor an interface"),
        (dict(prefix="10.63.0.0/16", via="192.168.0.2", dev="ipsec0"),
         f"request:1:1: routes[{n}]: via is only for routes through a port; ipsec0 is an ipsec interface"),
        (dict(prefix="10.63.0.0/16", via="10.99.0.1"),
         "request:1:1: via 10.99.0.1: on no port's subnet and no interface's address; give dev"),
    ]:
        r = g.req("route-add", **fields)
        assert r == {"ok": False, "error": error}
    r = g.req("route-add", prefix="10.63.0.1/16", dev="wan0")
    assert not r["ok"] and "10.63.0.1/16 has host bits set" in r["error"]
    for prefix in ("10.63.0.0/16", "10.61.1.0/25", "10.100.0.0/24"):
        r = g.req("route-del", prefix=prefix)
        assert r == {"ok": False, "error": f"request:1:1: no configured route for {prefix} (connected, "
                     "peer and local routes follow their ports and interfaces)"}
    assert static(g) == want

    # a configured route replaces a connected or a peer route, and gives it
    # back when it goes; an own address is never replaced
    for prefix, kind, dev in (("10.100.0.0/24", "connected", "lan0"),
                              ("172.16.9.2/32", "peer", "ipsec0"),
                              ("172.16.9.1/32", "local", "ipsec0")):
        assert routes(g)[prefix]["type"] == kind
        g.ok("route-add", prefix=prefix, via="192.168.0.2", dev="wan0")
        r = routes(g)[prefix]
        assert (r["type"], r["dev"]) == (("local", "ipsec0") if kind == "local" else ("static", "wan0"))
        g.ok("route-del", prefix=prefix)
        assert (routes(g)[prefix]["type"], routes(g)[prefix]["dev"]) == (kind, dev)
    assert static(g) == want

    # delete every third; the moved entries of the index stay right
    for i in range(0, 300, 3):
        g.ok("route-del", prefix=RT[i]["prefix"])
        want.discard(wanted(i))
    assert static(g) == want
    for w in sorted(want)[:20]:
        r = g.req("route-add", prefix=w[0], dev="wan0")
        assert not r["ok"] and "already routed" in r["error"]

    # a reload takes the file's routes; the requests go on from there
    f = tmp_path / "next.yaml"
    f.write_text(BASE + "  - { prefix: 10.61.1.0/24, dev: ipsec0 }\n")
    ch = g.ok("reload", file=str(f))["changes"]["routes"]
    gone = {w for w in want if w[0] not in ("10.50.0.0/16", "10.61.1.0/24")}
    assert ch["added"] + ch["changed"] == 1 and ch["removed"] == len(gone)
    assert static(g) == {("10.50.0.0/16", "wan0", "192.168.0.2"), ("10.61.1.0/24", "ipsec0", None)}
    r = g.req("route-add", prefix="10.61.1.0/24", dev="wan0")
    assert not r["ok"] and "already routed" in r["error"]
    g.ok("route-add", prefix="10.61.3.0/24", dev="ipsec0")
    g.ok("route-del", prefix="10.61.1.0/24")
    g.ok("route-add", prefix="10.61.1.0/24", via="192.168.0.2", dev="wan0")
    assert static(g) == {("10.50.0.0/16", "wan0", "192.168.0.2"), ("10.61.3.0/24", "ipsec0", None),
                         ("10.61.1.0/24", "wan0", "192.168.0.2")}

    # an interface takes its routes with it; their prefixes are free again
    g.ok("interface-del", name="ipsec0")
    assert static(g) == {("10.50.0.0/16", "wan0", "192.168.0.2"), ("10.61.1.0/24", "wan0", "192.168.0.2")}
    g.ok("route-add", prefix="10.61.3.0/24", via="192.168.0.2", dev="wan0")
    g.ok("route-del", prefix="10.50.0.0/16")
    assert static(g) == {("10.61.1.0/24", "wan0", "192.168.0.2"), ("10.61.3.0/24", "wan0", "192.168.0.2")}
    g.stop()


def test_many_routes_in_the_file(gateway, macs):
    """20 000 routes in the file (the loader hands them to the parser one
    at a time): each probe leaves by its own route's next hop."""
    from net import R3, forwarded
    n = 20000
    lines = [BASE.replace("interfaces:", f'  - {{ address: 192.168.0.3, lladdr: "{R3}", dev: wan0 }}\n'
                                         "interfaces:")]
    for i in range(n):
        lines.append(f"  - {{ prefix: 20.{i // 256}.{i % 256}.0/24, via: 192.168.0.{2 + i % 2}, dev: wan0 }}\n")
    idx = list(range(0, n, 97)) + [n - 1]
    probes = [Ether(src=HOST, dst=macs[1]) / IP(src="10.100.0.10", dst=f"20.{i // 256}.{i % 256}.9") /
              UDP(sport=i % 60000 + 1, dport=9) for i in idx]
    miss = [Ether(src=HOST, dst=macs[1]) / IP(src="10.100.0.10", dst=f"20.{n // 256 + 1}.0.9") / UDP()]
    r = gateway.run("".join(lines), {"lan0": probes + miss}, idle_ms=300)
    got = [bytes(p) for p in r.out["wan0"] if bytes(p)[12:14] == b"\x08\x00"]
    want = [forwarded(p, macs[0], R3 if i % 2 else R2) for i, p in zip(idx, probes)]
    assert got == want
    r.assert_only_drop("no-route", 1, "lan0")
