"""ipsecctl's words: what request each command line becomes (-n prints it
instead of sending it), for the seeds' ifconfig / setkey / route lines and
the rest of the grammar, and the usage errors.  test_ipsecctl_live.py runs
the same words against a gateway."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

CTL = Path(os.environ.get("IPSECCTL", ROOT / "build" / "ipsecctl"))


def run(*words, cwd=None):
    return subprocess.run([str(CTL), *words], capture_output=True, text=True, timeout=30, cwd=cwd)


def req(line):
    import shlex
    p = run("-n", *shlex.split(line))
    assert p.returncode == 0, f"{line}: {p.returncode} {p.stderr}"
    return json.loads(p.stdout)


CASES = [
    # NetBSD ipsecif(4)
    ("interface create ipsec0", {"op": "interface-add", "name": "ipsec0"}),
    ("interface ipsec0 tunnel 192.168.0.1 192.168.0.2",
     {"op": "interface-set", "name": "ipsec0",
      "tunnel": {"local": "192.168.0.1", "remote": "192.168.0.2"}}),
    ("interface ipsec0 inet 172.16.100.1/32 172.16.200.1",
     {"op": "interface-set", "name": "ipsec0", "address": ["172.16.100.1/32"],
      "peer": "172.16.200.1"}),
    ("interface ipsec0 -link2", {"op": "interface-set", "name": "ipsec0", "ipv6": False}),
    ("route add 10.200.0.1 172.16.100.1",
     {"op": "route-add", "prefix": "10.200.0.1/32", "via": "172.16.100.1"}),
    # FreeBSD if_ipsec(4)
    ("interface create ipsec0 reqid 100", {"op": "interface-add", "name": "ipsec0", "reqid": 100}),
    ("interface ipsec0 inet tunnel 192.168.0.3 192.168.0.5",
     {"op": "interface-set", "name": "ipsec0",
      "tunnel": {"local": "192.168.0.3", "remote": "192.168.0.5"}}),
    ('sa add 192.168.0.3 192.168.0.5 esp 10000 -m tunnel -u 100 -E rijndael-cbc "VerySecureKey!!1" '
     "-A hmac-sha256 0x" + "31" * 32 + " ;",
     {"op": "sa-add", "spi": 10000, "src": "192.168.0.3", "dst": "192.168.0.5", "reqid": 100,
      "enc": "aes-cbc-128", "enc-key": "0x" + b"VerySecureKey!!1".hex(),
      "auth": "hmac-sha256-128", "auth-key": "0x" + "31" * 32}),
    # the contract's own words
    ("sa add 192.168.0.1 192.168.0.2 esp 0x1000 aead aes-gcm-128 0x" + "01" * 20 +
     " esn replay 4096 soft-packets 100 hard-bytes 5000",
     {"op": "sa-add", "spi": 4096, "src": "192.168.0.1", "dst": "192.168.0.2",
      "aead": "aes-gcm-128", "key": "0x" + "01" * 20, "esn": True, "replay-window": 4096,
      "lifetime": {"soft": {"packets": 100}, "hard": {"bytes": 5000}}}),
    ("sa add 10.1.1.1 20.1.1.1 esp 9876 -E 3des-cbc \"hogehogehogehogehogehoge\" -A hmac-sha1 0x" +
     "02" * 20,
     {"op": "sa-add", "spi": 9876, "src": "10.1.1.1", "dst": "20.1.1.1", "enc": "3des-cbc",
      "enc-key": "0x" + b"hogehogehogehogehogehoge".hex(), "auth": "hmac-sha1-96",
      "auth-key": "0x" + "02" * 20}),
    ("sa update 192.168.0.1 192.168.0.2 esp 4096 hard-seconds 60 nat-t-port 31000",
     {"op": "sa-update", "spi": 4096, "src": "192.168.0.1", "dst": "192.168.0.2",
      "lifetime": {"hard": {"seconds": 60}}, "nat-t-port": 31000}),
    ("sa get 192.168.0.1 192.168.0.2 esp 4096",
     {"op": "sa-get", "spi": 4096, "src": "192.168.0.1", "dst": "192.168.0.2"}),
    ("sa delete 192.168.0.1 192.168.0.2 esp 4096",
     {"op": "sa-del", "spi": 4096, "src": "192.168.0.1", "dst": "192.168.0.2"}),
    ("sa flush", {"op": "sa-flush"}),
    ("sa flush interface ipsec1", {"op": "sa-flush", "interface": "ipsec1"}),
    ("sa getspi 192.168.0.1 reqid 7", {"op": "get-spi", "dst": "192.168.0.1", "reqid": 7}),
    ("interface ipsec0 set nat-t on ecn off ipv6 on df set mtu 1400",
     {"op": "interface-set", "name": "ipsec0", "nat-t": True, "ecn": False, "ipv6": True,
      "df": "set", "mtu": 1400}),
    ("interface ipsec0 link0 link1", {"op": "interface-set", "name": "ipsec0", "nat-t": True,
                                      "ecn": True}),
    ("interface destroy ipsec0", {"op": "interface-del", "name": "ipsec0"}),
    ("route add 10.0.0.0/8 via 192.168.0.254 dev wan0",
     {"op": "route-add", "prefix": "10.0.0.0/8", "via": "192.168.0.254", "dev": "wan0"}),
    ("route add fd00:200::/64 dev ipsec0", {"op": "route-add", "prefix": "fd00:200::/64",
                                            "dev": "ipsec0"}),
    ("route delete 10.0.0.0/8", {"op": "route-del", "prefix": "10.0.0.0/8"}),
    ("neighbor add 192.168.0.2 02:00:00:00:00:02 dev wan0",
     {"op": "neighbor-add", "address": "192.168.0.2", "lladdr": "02:00:00:00:00:02", "dev": "wan0"}),
    ("neighbor delete 192.168.0.2 dev wan0",
     {"op": "neighbor-del", "address": "192.168.0.2", "dev": "wan0"}),
    ("show", {"op": "interface-list"}),
    ("show sas", {"op": "sa-list"}),
    ("show routes", {"op": "route-list"}),
    ("show neighbors", {"op": "neighbor-list"}),
    ("stats", {"op": "stats"}),
    ("stats reset", {"op": "stats-reset"}),
    ("monitor", {"op": "subscribe"}),
    ("hello", {"op": "hello"}),
]


@pytest.mark.parametrize("line,want", CASES, ids=[c[0][:50] for c in CASES])
def test_words_become_requests(line, want):
    if not CTL.exists():
        pytest.fail(f"{CTL} not built")
    assert req(line) == want


def test_reload_file_is_made_absolute(tmp_path):
    p = run("-n", "reload", "next.yaml", cwd=tmp_path)
    assert json.loads(p.stdout) == {"op": "reload", "file": str(tmp_path / "next.yaml")}
    assert json.loads(run("-n", "reload").stdout) == {"op": "reload"}


@pytest.mark.parametrize("line,why", [
    ("frobnicate", "unknown command"),
    ("sa add 192.168.0.1 192.168.0.2 esp 300", "needs aead"),
    ("sa add 192.168.0.1 2001:db8::2 esp 300 aead aes-gcm-128 0x01", ""),
    ("sa add 192.168.0.1 192.168.0.2 ah 300 aead aes-gcm-128 0x01", "esp"),
    ("sa add 192.168.0.1 192.168.0.2 esp notanumber aead aes-gcm-128 0x01", "SPI"),
    ("interface ipsec0 set df sometimes", "df"),
    ("route add", ""),
])
def test_usage_errors(line, why):
    import shlex
    p = run("-n", *shlex.split(line))
    assert p.returncode == 2 and why in p.stderr and "usage:" in p.stderr
    assert p.stdout == ""


def test_no_gateway_names_the_socket(tmp_path):
    p = run("-S", str(tmp_path / "nothing.sock"), "show")
    assert p.returncode == 1 and "nothing.sock" in p.stderr
