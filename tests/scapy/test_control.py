"""The control socket, spoken directly as an IKE daemon would.

            wan0 = net_pcap0                            lan0 = net_pcap1
  peer      192.168.0.1/24                   [gw]   10.100.0.1/24        host
  .2 (R2)   ipsec0: 192.168.0.1 <-> 192.168.0.2      10.100.0.10
  far side: 10.200.0.0/24 routed into ipsec0

The gateway runs for the whole test (conftest.Live) with lan0 replaying
plain packets to the far side for ever, so every change below happens
under traffic.  Replies and events are JSON lines (docs/control-protocol.md).
"""
import json
import os
import socket
import stat
import subprocess
import time

import pytest

from esp_helpers import GCM128, SaSpec, Tunnel, from_lan, inbound, outbound

KEY_OUT = "0x" + bytes(range(1, 21)).hex()
KEY_IN = "0x" + bytes(range(101, 121)).hex()


def lan_traffic(macs, n=8):
    return [from_lan(outbound(4, sport=1000 + i), macs[1]) for i in range(n)]


def sa(spi, out=True, key=None, **kw):
    src, dst = ("192.168.0.1", "192.168.0.2") if out else ("192.168.0.2", "192.168.0.1")
    return dict(spi=spi, src=src, dst=dst, interface="ipsec0", aead="aes-gcm-128",
                key=key or (KEY_OUT if out else KEY_IN), **kw)


def events(conn, want, timeout=10.0):
    """Read event lines from a subscribed connection until `want(event)` is
    true; return every event read."""
    s, f = conn
    seen = []
    s.settimeout(timeout)
    try:
        while True:
            line = f.readline()
            if not line:
                break
            ev = json.loads(line)
            seen.append(ev)
            if want(ev):
                return seen
    except (TimeoutError, socket.timeout):
        pass
    raise AssertionError(f"no such event within {timeout}s; saw {seen}")


def subscribe(g):
    conn = g.connect()
    assert g.raw('{"op": "subscribe"}', conn) == {"ok": True}
    return conn


def stat_of(g, *path):
    v = g.ok("stats")["stats"]
    for p in path:
        v = v[p]
    return v


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def gw(live, macs):
    t = Tunnel(with_out_sa=False, with_in_sa=False)
    return live(t.config(), inputs={"lan0": lan_traffic(macs)}, loop=("lan0",), capture=False)


def test_hello_names_version_and_algorithms(gw):
    r = gw.ok("hello")
    assert r["protocol"] == 1 and r["version"]
    assert r["crypto"]["device"].startswith("crypto_aesni_mb")
    assert "aes-gcm-128" in r["algorithms"]["aead"]
    assert "hmac-sha256-128" in r["algorithms"]["auth"]
    assert "aes-cbc-128" in r["algorithms"]["enc"]
    gw.stop()


def test_ike_daemon_session(gw):
    """acquire -> get-spi -> sa-add both ways -> query -> soft and hard
    expiry by packets -> delete, with the events a daemon hears."""
    mon = subscribe(gw)
    # traffic into an interface without an outbound SA asks for one
    seen = events(mon, lambda e: e["event"] == "acquire")
    acq = seen[-1]
    assert acq["interface"] == "ipsec0" and acq["src"] == "10.100.0.10"
    assert acq["dst"].startswith("10.200.0.") and acq["reqid"] >= 1
    assert stat_of(gw, "interfaces", "ipsec0", "drops", "no-sa") > 0

    spi1 = gw.ok("get-spi", dst="192.168.0.1")["spi"]
    spi2 = gw.ok("get-spi", dst="192.168.0.1", src="192.168.0.2", reqid=acq["reqid"])["spi"]
    assert spi1 != spi2 and spi1 >= 256 and spi2 >= 256

    r = gw.ok("sa-add", **sa(spi1, out=False))
    assert r["sa"]["direction"] == "in" and r["sa"]["spi"] == spi1
    r = gw.ok("sa-add", **sa(0x1000, out=True))
    assert r["sa"]["direction"] == "out" and r["sa"]["state"] == "live"
    seen = events(mon, lambda e: e["event"] == "sa-added" and e["spi"] == 0x1000)
    assert any(e["event"] == "sa-added" and e["spi"] == spi1 for e in seen)

    # the outbound SA carries the traffic now
    q = wait_for(lambda: (lambda s: s if s["packets"] > 1000 else None)(
        gw.ok("sa-get", spi=0x1000, dst="192.168.0.2")["sa"]), what="packets on the new SA")
    assert q["bytes"] > 0 and q["last_used"] >= q["added"] > 0 and q["seq"] > 0
    assert "key" not in json.dumps(q)
    # a query names the SA by spi and dst, and src must agree if given
    assert not gw.req("sa-get", spi=0x1000, dst="192.168.0.2", src="192.168.0.9")["ok"]

    # lifetimes by packets, counted from the SA's start
    base = q["packets"]
    gw.ok("sa-update", spi=0x1000, dst="192.168.0.2",
          lifetime={"soft": {"packets": base + 20000}, "hard": {"packets": base + 60000}})
    seen = events(mon, lambda e: e["event"] == "sa-expire" and e["type"] == "hard")
    soft = [e for e in seen if e["event"] == "sa-expire" and e["type"] == "soft"]
    hard = seen[-1]
    assert len(soft) == 1 and soft[0]["limit"] == "packets" and soft[0]["spi"] == 0x1000
    assert hard["limit"] == "packets" and hard["interface"] == "ipsec0"
    q = gw.ok("sa-get", spi=0x1000, dst="192.168.0.2")["sa"]
    assert q["state"] == "hard-expired"
    # a hard-expired SA stops: what is routed into it is dropped and counted
    # (the interface has no other outbound SA to take over, so: no-sa)
    time.sleep(0.1)
    d1 = stat_of(gw, "interfaces", "ipsec0", "drops")
    time.sleep(0.2)
    d2 = stat_of(gw, "interfaces", "ipsec0", "drops")
    assert d2["no-sa"] + d2["sa-expired"] > d1["no-sa"] + d1["sa-expired"]
    stopped = gw.ok("sa-get", spi=0x1000, dst="192.168.0.2")["sa"]["packets"]
    assert stopped < base + 60000 + 64 * 32

    gw.ok("sa-del", spi=0x1000, dst="192.168.0.2")
    events(mon, lambda e: e["event"] == "sa-deleted" and e["spi"] == 0x1000)
    r = gw.req("sa-get", spi=0x1000, dst="192.168.0.2")
    assert r["ok"] is False and "no SA" in r["error"]
    assert [s["spi"] for s in gw.ok("sa-list")["sas"]] == [spi1]
    mon[0].close()
    gw.stop()


def test_time_lifetime_and_flush(gw):
    mon = subscribe(gw)
    gw.ok("sa-add", **sa(0x1000, lifetime={"soft": {"seconds": 1}, "hard": {"seconds": 2}}))
    gw.ok("sa-add", **sa(0x2000, out=False))
    seen = events(mon, lambda e: e["event"] == "sa-expire" and e["type"] == "hard", timeout=8)
    exp = [e for e in seen if e["event"] == "sa-expire"]
    assert [(e["type"], e["limit"], e["spi"]) for e in exp] == \
        [("soft", "seconds", 0x1000), ("hard", "seconds", 0x1000)]
    assert gw.ok("sa-flush", interface="ipsec0")["deleted"] == 2
    assert gw.ok("sa-list")["sas"] == []
    gw.stop()


def test_mapping_event_when_nat_port_changes(live, macs):
    """A NAT-T peer whose source port changes (after authentication) is
    reported; the first port is only recorded.  The peer's packets loop,
    alternating between two source ports, with anti-replay off."""
    t = Tunnel(nat_t=True, replay_window=0)
    peer_a, peer_b = t.peer_in(sport=4500), t.peer_in(sport=31000)
    wan = macs[0]
    frames = [peer_a.frame(inbound(4, sport=7), 1, wan), peer_a.frame(inbound(4, sport=7), 2, wan),
              peer_b.frame(inbound(4, sport=7), 3, wan)]
    g = live(t.config(), inputs={"wan0": frames}, loop=("wan0",), capture=False)
    mon = subscribe(g)
    ev = events(mon, lambda e: e["event"] == "mapping")[-1]
    assert ev["spi"] == t.in_sa.spi and ev["interface"] == "ipsec0" and ev["dst"] == "192.168.0.1"
    ports = {ev["old"]["port"], ev["new"]["port"]}
    assert ports == {4500, 31000} and ev["new"]["address"] == "192.168.0.2"
    # what a daemon does next: move both SAs to the new mapping
    for spi, dst in ((t.out_sa.spi, t.remote), (t.in_sa.spi, t.local)):
        r = g.ok("sa-update", spi=spi, dst=dst, **{"nat-t-port": ev["new"]["port"]})
        assert r["sa"]["nat-t-port"] == ev["new"]["port"]
    r = g.req("sa-update", spi=t.out_sa.spi, dst=t.remote, **{"nat-t-port": 0})
    assert not r["ok"] and "nat-t-port" in r["error"]
    g.stop()


def test_interfaces_routes_neighbors(gw):
    mon = subscribe(gw)
    r = gw.ok("interface-add", name="ipsec1", tunnel={"local": "192.168.0.1", "remote": "192.168.0.3"},
              address=["172.16.1.1/32"], peer="172.16.1.2", reqid=300)
    assert r["interface"]["name"] == "ipsec1" and r["interface"]["reqid"] == 300
    events(mon, lambda e: e["event"] == "interface-added" and e["name"] == "ipsec1")
    assert not gw.req("interface-add", name="ipsec1")["ok"]
    names = [i["name"] for i in gw.ok("interface-list")["interfaces"]]
    assert names == ["ipsec0", "ipsec1"]

    # BSD "route add DEST GATEWAY": the gateway is ipsec1's own address
    gw.ok("route-add", prefix="10.201.0.0/16", via="172.16.1.1")
    gw.ok("route-add", prefix="203.0.113.0/24", via="192.168.0.2")
    routes = {r["prefix"]: r for r in gw.ok("route-list")["routes"]}
    assert routes["10.201.0.0/16"] == {"prefix": "10.201.0.0/16", "dev": "ipsec1", "type": "static"}
    assert routes["203.0.113.0/24"]["dev"] == "wan0" and routes["203.0.113.0/24"]["via"] == "192.168.0.2"
    assert routes["172.16.1.2/32"]["type"] == "peer" and routes["172.16.1.1/32"]["type"] == "local"
    r = gw.req("route-add", prefix="10.201.0.0/16", dev="ipsec0")
    assert not r["ok"] and "already routed" in r["error"]

    # ifconfig-style changes; the tunnel of an interface with SAs stays
    r = gw.ok("interface-set", name="ipsec1", ecn=False, df="set", mtu=1400)["interface"]
    assert (r["ecn"], r["df"], r["mtu"], r["nat-t"]) == (False, "set", 1400, False)
    gw.ok("sa-add", spi=0x3000, src="192.168.0.1", dst="192.168.0.3", reqid=300,
          aead="aes-gcm-256", key="0x" + "11" * 36)
    r = gw.req("interface-set", name="ipsec1", tunnel={"local": "192.168.0.1", "remote": "192.168.0.4"})
    assert not r["ok"] and "has SAs" in r["error"]
    assert gw.ok("interface-list")["interfaces"][1]["outbound_sa"] == 0x3000

    gw.ok("neighbor-add", address="192.168.0.3", lladdr="02:00:00:00:00:03", dev="wan0")
    ns = {n["address"]: n for n in gw.ok("neighbor-list")["neighbors"]}
    assert ns["192.168.0.3"]["lladdr"].lower() == "02:00:00:00:00:03" and ns["192.168.0.3"]["dev"] == "wan0"
    gw.ok("neighbor-add", address="192.168.0.3", lladdr="02:00:00:00:00:33", dev="wan0")
    ns = {n["address"]: n for n in gw.ok("neighbor-list")["neighbors"]}
    assert ns["192.168.0.3"]["lladdr"].lower() == "02:00:00:00:00:33"
    gw.ok("neighbor-del", address="192.168.0.3", dev="wan0")
    assert "192.168.0.3" not in {n["address"] for n in gw.ok("neighbor-list")["neighbors"]}

    # destroying the interface takes its SAs and routes with it
    gw.ok("interface-del", name="ipsec1")
    seen = events(mon, lambda e: e["event"] == "interface-deleted")
    assert any(e["event"] == "sa-deleted" and e["spi"] == 0x3000 for e in seen)
    routes = {r["prefix"] for r in gw.ok("route-list")["routes"]}
    assert "10.201.0.0/16" not in routes and "172.16.1.2/32" not in routes
    assert "203.0.113.0/24" in routes
    gw.ok("route-del", prefix="203.0.113.0/24")
    r = gw.req("route-del", prefix="10.100.0.0/24")
    assert not r["ok"] and "no configured route" in r["error"]
    assert [s["spi"] for s in gw.ok("sa-list")["sas"]] == []
    gw.stop()


def test_stats_and_reset(gw):
    wait_for(lambda: stat_of(gw, "ports", "lan0", "rx_packets") > 1000, what="traffic")
    gw.ok("stats-reset")
    assert stat_of(gw, "ports", "lan0", "rx_packets") < 1_000_000
    s = gw.ok("stats")["stats"]
    assert set(s) >= {"ports", "interfaces", "sas", "drops", "totals", "mbufs"}
    gw.stop()


def test_reload_keeps_what_did_not_change(live, macs, tmp_path):
    """reload: the diff is applied; an SA that did not change keeps its
    sequence numbers; a bad file changes nothing."""
    t = Tunnel()
    g = live(t.config(), inputs={"lan0": lan_traffic(macs)}, loop=("lan0",), capture=False)
    wait_for(lambda: g.ok("sa-get", spi=0x1000, dst="192.168.0.2")["sa"]["seq"] > 1000,
             what="outbound traffic")
    before = g.ok("sa-get", spi=0x1000, dst="192.168.0.2")["sa"]
    new = t.config().replace("routes:\n", "routes:\n  - { prefix: 10.250.0.0/16, dev: ipsec0 }\n")
    new = new.replace(t.in_sa.yaml(), t.in_sa.yaml() +
                      SaSpec(0x2001, t.remote, t.local, GCM128, seed=9).yaml())
    f = tmp_path / "next.yaml"
    f.write_text(new)
    r = g.ok("reload", file=str(f))
    ch = r["changes"]
    assert ch["sas"] == {"added": 1, "removed": 0, "changed": 0}
    assert ch["routes"]["added"] == 1 and ch["interfaces"] == {"added": 0, "removed": 0, "changed": 0}
    after = g.ok("sa-get", spi=0x1000, dst="192.168.0.2")["sa"]
    assert after["added"] == before["added"] and after["seq"] >= before["seq"]

    bad = tmp_path / "bad.yaml"
    bad.write_text(new.replace("prefix: 10.250.0.0/16", "prefix: 10.250.0.1/16"))
    r = g.req("reload", file=str(bad))
    assert not r["ok"] and "bad.yaml:" in r["error"]
    assert {s["spi"] for s in g.ok("sa-list")["sas"]} == {0x1000, 0x2000, 0x2001}
    ports = new.replace("port: 1, address: [10.100.0.1/24", "port: 1, address: [10.100.9.1/24")
    f.write_text(ports)
    r = g.req("reload", file=str(f))
    assert not r["ok"] and "ports and crypto cannot change" in r["error"]
    # the original file again: back to two SAs, the kept one untouched
    r = g.ok("reload")
    assert r["changes"]["sas"]["removed"] == 1
    assert g.ok("sa-get", spi=0x1000, dst="192.168.0.2")["sa"]["added"] == before["added"]
    g.stop()


# --- bad requests ------------------------------------------------------------

BAD = [
    ("not yaml at all: [", "request:"),
    ('["op", "hello"]', "one mapping"),
    ('{"spi": 1}', "no op"),
    ('{"op": "frobnicate"}', "unknown op 'frobnicate'"),
    ('{"op": "sa-add", "spi": 5000, "src": "192.168.0.1", "dst": "192.168.0.2", '
     '"interface": "ipsec0", "aead": "aes-gcm-128", "key": "0x0102"}', "key"),
    ('{"op": "sa-add", "spi": 5000, "src": "192.168.0.1", "dst": "192.168.0.2", '
     '"interface": "ipsec0", "aead": "aes-gcm-128", "key": "' + KEY_OUT + '", "colour": "red"}',
     "colour"),
    ('{"op": "sa-add", "spi": 5000, "src": "192.168.0.9", "dst": "192.168.0.2", '
     '"interface": "ipsec0", "aead": "aes-gcm-128", "key": "' + KEY_OUT + '"}', "neither direction"),
    ('{"op": "sa-add", "spi": 5000, "src": "192.168.0.1", "dst": "192.168.0.2", '
     '"interface": "ipsec9", "aead": "aes-gcm-128", "key": "' + KEY_OUT + '"}', "ipsec9"),
    ('{"op": "sa-del", "spi": 77, "dst": "192.168.0.2"}', "no SA"),
    ('{"op": "route-add", "prefix": "10.9.0.1/16", "dev": "ipsec0"}', "10.9.0.1/16"),
    ('{"op": "route-add", "prefix": "10.9.0.0/16", "dev": "nope0"}', "nope0"),
    ('{"op": "interface-set", "name": "ipsec7", "ecn": false}', "no interface named ipsec7"),
    ('{"op": "interface-add", "name": "wan0"}', "wan0"),
    ('{"op": "neighbor-add", "address": "10.100.0.20", "lladdr": "zz", "dev": "lan0"}', "lladdr"),
    ('{"op": "get-spi"}', "dst"),
    ('{"op": "reload", "file": "/nonexistent/x.yaml"}', "/nonexistent/x.yaml"),
]


@pytest.mark.parametrize("line,why", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_request_changes_nothing(gw, line, why):
    before = {op: gw.ok(op) for op in ("sa-list", "interface-list", "route-list", "neighbor-list")}
    r = gw.raw(line)
    assert r["ok"] is False and why in r["error"], r
    assert KEY_OUT[2:] not in r["error"]
    after = {op: gw.ok(op) for op in ("sa-list", "interface-list", "route-list", "neighbor-list")}
    for op in before:
        if op == "interface-list":      # counters move with the traffic
            for x in before[op]["interfaces"] + after[op]["interfaces"]:
                for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "dropped"):
                    x.pop(k)
        assert before[op] == after[op]
    assert gw.ok("hello")["protocol"] == 1      # the connection still works
    gw.stop()


def test_oversized_request_is_refused_and_others_go_on(gw):
    other = gw.connect()
    s, f = gw.connect()
    s.sendall(b'{"op": "hello", "pad": "' + b"x" * 70000)
    r = json.loads(f.readline())
    assert r["ok"] is False and "too long" in r["error"]
    try:                                # and the connection is closed
        assert f.readline() == ""
    except ConnectionResetError:        # (with the rest of the line unread)
        pass
    # a client that sends half a line and stops holds no one up
    s2, _ = gw.connect()
    s2.sendall(b'{"op": "hel')
    assert gw.raw('{"op": "hello"}', other)["ok"]
    assert gw.ok("hello")["ok"]
    s2.close()
    gw.stop()


def test_socket_is_private(gw):
    st = os.stat(gw.sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    # another user cannot even open it; with the file opened up, the
    # gateway still checks the peer's credentials
    # (the gateway answers a stranger at once, and hangs up)
    probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
             "print(s.makefile().readline())")
    run = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", probe,
           gw.sock]
    p = subprocess.run(run, capture_output=True, text=True)
    assert p.returncode != 0 and "Permission denied" in p.stderr
    os.chmod(gw.sock, 0o666)
    p = subprocess.run(run, capture_output=True, text=True)
    r = json.loads(p.stdout)
    assert r["ok"] is False and "permission denied" in r["error"]
    gw.stop()


def test_second_gateway_on_same_socket_refuses(gw, tmp_path):
    from conftest import eal_args, run_ipsecgw
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ports:\n  p0: { port: 0 }\n")
    p = run_ipsecgw(eal_args("second") + ["--vdev", "net_null0", "--", "-f", str(cfg), "-S", gw.sock,
                                          "--idle-exit", "100"])
    assert p.returncode == 1 and "another ipsecgw is serving" in p.stderr
    assert gw.ok("hello")["ok"]
    gw.stop()


def test_many_clients_at_once(gw):
    conns = [gw.connect() for _ in range(20)]
    for i, (s, _) in enumerate(conns):
        s.sendall(json.dumps({"op": "get-spi", "dst": "192.168.0.1"}).encode() + b"\n")
    spis = [json.loads(f.readline())["spi"] for _, f in conns]
    assert len(set(spis)) == 20
    for s, _ in conns:
        s.close()
    gw.stop()
