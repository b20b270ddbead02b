"""ipsecctl against a running gateway: the seeds' steps typed one to one
(ifconfig / setkey / route), tables and -j output, errors and exit codes,
keys never printed, and `monitor`.

            wan0 = net_pcap0                         lan0 = net_pcap1
  ipsecif(4):  192.168.0.1/24  [gw A]  10.100.0.1/24     (tunnel to 192.168.0.2)
  if_ipsec(4): 192.168.0.3/24  [gw A]                    (tunnel to 192.168.0.5)

A gateway configured by ipsecctl commands must end up in the same state as
one started with the seed's example file (config/examples/), which the ESP
example tests drive with traffic.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT

CTL = Path(os.environ.get("IPSECCTL", ROOT / "build" / "ipsecctl"))
EXAMPLES = ROOT / "config" / "examples"


def ctl(g, *words, check=True):
    p = subprocess.run([str(CTL), "-S", g.sock, *words], capture_output=True, text=True, timeout=30)
    if check:
        assert p.returncode == 0, f"ipsecctl {' '.join(words)}: {p.returncode}\n{p.stderr}"
    return p


def ports_only(example):
    """The example file's ports section alone (the ifconfig wmN lines)."""
    text = (EXAMPLES / example).read_text()
    keep, on = [], False
    for line in text.splitlines():
        if line.startswith("ports:"):
            on = True
        elif line and not line.startswith((" ", "#")):
            on = False
        if on:
            keep.append(line)
    return "\n".join(keep) + "\n"


def state(g):
    """What must agree: interfaces, SAs and routes, without counters and
    times."""
    drop = {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "dropped", "packets", "bytes",
            "auth_failed", "replay", "seq", "added", "last_used", "state"}
    ifs = [{k: v for k, v in i.items() if k not in drop} for i in g.ok("interface-list")["interfaces"]]
    sas = sorted(({k: v for k, v in s.items() if k not in drop} for s in g.ok("sa-list")["sas"]),
                 key=lambda s: s["spi"])
    routes = sorted((r["prefix"], r["dev"]) for r in g.ok("route-list")["routes"])
    return ifs, sas, routes


NETBSD_A = [
    "interface create ipsec0",
    "interface ipsec0 tunnel 192.168.0.1 192.168.0.2",
    "interface ipsec0 inet 172.16.100.1/32 172.16.200.1",
    "interface ipsec0 -link0 -link1 link2",
    "sa add 192.168.0.1 192.168.0.2 esp 10000 aead aes-gcm-128 "
    "0x0101010101010101010101010101010101010101",
    "sa add 192.168.0.2 192.168.0.1 esp 10001 aead aes-gcm-128 "
    "0x0202020202020202020202020202020202020202",
    "route add 10.200.0.1 172.16.100.1",
]

FREEBSD_A = [
    "interface create ipsec0 reqid 100",
    "interface ipsec0 inet tunnel 192.168.0.3 192.168.0.5",
    "interface ipsec0 inet 172.16.0.3/16 172.16.0.5",
    'sa add 192.168.0.3 192.168.0.5 esp 10000 -m tunnel -u 100 -E rijndael-cbc "VerySecureKey!!1" '
    "-A hmac-sha256 0x" + "31" * 32 + " ;",
    'sa add 192.168.0.5 192.168.0.3 esp 10001 -m tunnel -u 100 -E rijndael-cbc "VerySecureKey!!2" '
    "-A hmac-sha256 0x" + "32" * 32 + " ;",
]


def words(line):
    import shlex
    return shlex.split(line)


@pytest.mark.parametrize("example,steps", [("ipsecif-netbsd-a.yaml", NETBSD_A),
                                           ("if_ipsec-freebsd-a.yaml", FREEBSD_A)],
                         ids=["netbsd-ipsecif", "freebsd-if_ipsec"])
def test_seed_steps_equal_the_example_file(live, example, steps):
    if not CTL.exists():
        pytest.fail(f"{CTL} not built")
    by_file = live((EXAMPLES / example).read_text(), capture=False)
    want = state(by_file)
    by_file.stop()
    g = live(ports_only(example), capture=False)
    for line in steps:
        ctl(g, *words(line))
    assert state(g) == want
    g.stop()


@pytest.fixture
def gw(live):
    if not CTL.exists():
        pytest.fail(f"{CTL} not built")
    g = live((EXAMPLES / "ipsecif-netbsd-a.yaml").read_text(), capture=False)
    yield g
    if g.proc.poll() is None:
        g.stop()


def test_show_tables_and_json(gw):
    for what in ("interfaces", "sas", "routes", "neighbors", "ports", "stats"):
        human = ctl(gw, "show", what).stdout
        assert human.strip(), what
        j = json.loads(ctl(gw, "-j", "show", what).stdout)
        assert isinstance(j, (dict, list)), what
    sas = ctl(gw, "show", "sas").stdout
    assert "10000" in sas and "10001" in sas and "aes-gcm-128" in sas
    # the keys never come back, in any form
    for out in (sas, ctl(gw, "-j", "show", "sas").stdout,
                ctl(gw, "sa", "get", "192.168.0.1", "192.168.0.2", "esp", "10000").stdout):
        assert "0101010101" not in out and "0202020202" not in out
    j = json.loads(ctl(gw, "-j", "sa", "get", "192.168.0.1", "192.168.0.2", "esp", "10000").stdout)
    assert j["sa"]["spi"] == 10000 if "sa" in j else j["spi"] == 10000
    routes = ctl(gw, "show", "routes").stdout
    assert "10.200.0.1/32" in routes and "ipsec0" in routes


def test_errors_exit_nonzero_and_say_why(gw, tmp_path):
    p = ctl(gw, "sa", "delete", "192.168.0.1", "192.168.0.2", "esp", "777", check=False)
    assert p.returncode == 1 and "no SA" in p.stderr
    p = ctl(gw, "route", "add", "10.9.0.1/16", "dev", "ipsec0", check=False)
    assert p.returncode == 1 and "10.9.0.1/16" in p.stderr
    p = ctl(gw, "frobnicate", check=False)
    assert p.returncode == 2 and p.stderr
    p = subprocess.run([str(CTL), "-S", str(tmp_path / "none.sock"), "show"], capture_output=True,
                       text=True)
    assert p.returncode == 1 and "none.sock" in p.stderr


def test_change_then_reload_then_flush(gw):
    ctl(gw, "route", "add", "10.250.0.0/16", "dev", "ipsec0")
    assert "10.250.0.0/16" in ctl(gw, "show", "routes").stdout
    ctl(gw, "route", "delete", "10.250.0.0/16")
    assert "10.250.0.0/16" not in ctl(gw, "show", "routes").stdout
    ctl(gw, "interface", "ipsec0", "set", "df", "clear", "mtu", "1400")
    i = gw.ok("interface-list")["interfaces"][0]
    assert (i["df"], i["mtu"]) == ("clear", 1400)
    ctl(gw, "reload")
    i = gw.ok("interface-list")["interfaces"][0]
    # mtu: auto again: wan0's 1500 less AES-GCM-128's ESP overhead over IPv4
    assert (i["df"], i["mtu"], i["mtu-auto"]) == ("copy", 1446, True)
    ctl(gw, "sa", "flush")
    assert gw.ok("sa-list")["sas"] == []


def test_monitor_prints_events(gw):
    mon = subprocess.Popen([str(CTL), "-S", gw.sock, "-j", "monitor"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)         # subscribed
        ctl(gw, "sa", "delete", "192.168.0.1", "192.168.0.2", "esp", "10000")
        line = mon.stdout.readline()
        ev = json.loads(line)
        assert ev["event"] == "sa-deleted" and ev["spi"] == 10000
    finally:
        mon.send_signal(signal.SIGINT)
        mon.wait(timeout=10)
    assert mon.returncode == 0
