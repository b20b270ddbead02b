"""--check on files with many mistakes: every error is reported in one run,
each at the exact line and column of what is wrong (the offending value; an
unknown or duplicate key at the key; a missing key at its mapping), and the
exit status is 1.  A good file exits 0; nothing secret is echoed."""
import re

import pytest

from conftest import run_ipsecgw

LOC = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")


def check(path, *extra):
    return run_ipsecgw(["--", "--check", "-f", str(path), *extra])


def errors_of(p, path):
    """[(line, col, message)] of the FILE:LINE:COL lines about `path`."""
    out = []
    for line in p.stderr.splitlines():
        m = LOC.match(line)
        if m and m["file"] == str(path):
            out.append((int(m["line"]), int(m["col"]), m["msg"]))
    return out


def assert_errors(tmp_path, name, text, want):
    """`want` is [(line, col, words that the message contains)]: exactly
    these positions, no more, no fewer."""
    f = tmp_path / name
    f.write_bytes(text.encode())
    p = check(f)
    assert p.returncode == 1, p.stderr
    got = errors_of(p, f)
    assert [(l, c) for l, c, _ in got] == [(l, c) for l, c, _ in want], p.stderr
    for (_, _, msg), (l, c, words) in zip(got, want):
        for w in words.split("|"):
            assert w in msg, f"{l}:{c}: '{w}' not in '{msg}'"
    n = len(want)
    assert p.stderr.rstrip().splitlines()[-1] == f"{f}: {n} error{'s' if n != 1 else ''}", p.stderr
    return p


PORTS_AND_ROUTES = """\
crypto:
  driver: aesni_mb
  mode: sideways
ports:
  wan0: { port: 0, address: [192.168.0.1/33, "2001:db8::1/129"], mtu: 99999 }
  lan0:
    port: 1
    address: 10.100.0.1
    mtu: big
  dmz0: { port: 2, adress: [172.31.0.1/24] }
neighbors:
  - { address: 192.168.0.2, lladdr: "02:00:00:00:00", dev: wan0 }
  - { address: 192.168.0.3, lladdr: "02:00:00:00:00:03" }
  - { address: not-an-ip, lladdr: "02:00:00:00:00:03", dev: wan0 }

routes:
  # a comment between entries
  - { prefix: 10.0.0.0/8, via: 192.168.0.2, dev: wan0, metric: 5 }
  - { prefix: 10.1.0.0, via: 192.168.0.2, dev: wan0 }
  - { prefix: "2001:db8:1::/48", via: 192.168.0.2, dev: wan0 }
  - [ 10.2.0.0/16 ]
colour: blue
"""

PORTS_AND_ROUTES_ERRORS = [
    (3, 9, "mode|sideways"),
    (5, 30, "address|192.168.0.1/33"),
    (5, 46, "address|2001:db8::1/129"),
    (5, 71, "mtu|99999"),
    (8, 14, "address|10.100.0.1"),
    (9, 10, "mtu|big"),
    (10, 20, "unknown key 'adress'"),
    (12, 37, "lladdr|02:00:00:00:00"),
    (13, 5, "neighbors[1]|dev"),
    (14, 16, "address|not-an-ip"),
    (18, 56, "unknown key 'metric'"),
    (19, 15, "prefix|10.1.0.0"),
    (20, 39, "routes[2]|IPv"),
    (21, 5, "routes[3]|mapping"),
    (22, 1, "unknown key 'colour'"),
]


def test_every_error_of_a_file_at_its_position(tmp_path):
    assert_errors(tmp_path, "many.yaml", PORTS_AND_ROUTES, PORTS_AND_ROUTES_ERRORS)


def test_crlf_line_ends_count_the_same(tmp_path):
    assert_errors(tmp_path, "crlf.yaml", PORTS_AND_ROUTES.replace("\n", "\r\n"), PORTS_AND_ROUTES_ERRORS)


def test_types_duplicates_and_references(tmp_path):
    text = """\
# comment line
ports:
  wan0: { port: [0], address: [192.168.0.1/24] }
  lan0: { port: 0x1, address: [10.100.0.1/24], mtu: 0x5dc }
  lan0: { port: 2 }
  dmz0: { port: 1 }
neighbors:
  - { address: 192.168.0.2, lladdr: "02:00:00:00:00:02", dev: nowhere }
  - { address: 192.168.0.3, lladdr: "02:00:00:00:00:03", dev: wan0, extra: 1 }
routes: { prefix: 10.0.0.0/8 }
interfaces:
  ipsec0:
    tunnel: { local: 192.168.0.1 }
    mtu: auto
    nat-t: maybe
    df: sometimes
sas:
  - spi: 0x100
    src: 192.168.0.1
    dst: 192.168.0.2
    interface: ipsec0
    aead: aes-gcm-128
    key: 0x0102030405060708090a0b0c0d0e0f1011121314
    replay-window: lots
"""
    assert_errors(tmp_path, "types.yaml", text, [
        (3, 17, "port|list"),
        (5, 3, "duplicate key 'lan0'"),
        (6, 3, "dmz0|port 1|lan0"),
        (8, 5, "neighbors[0]|nowhere"),
        (9, 69, "unknown key 'extra'"),
        (10, 9, "routes|list"),
        (13, 13, "ipsec0|remote"),
        (15, 12, "nat-t|maybe"),
        (16, 9, "df|sometimes"),
        (24, 20, "replay-window|lots"),
    ])


def test_top_level_of_the_wrong_kind(tmp_path):
    assert_errors(tmp_path, "kinds.yaml", "ports: []\nneighbors: {}\nroutes: 5\n", [
        (1, 8, "ports"), (2, 12, "neighbors"), (3, 9, "routes")])


def test_a_document_that_is_not_a_mapping(tmp_path):
    f = tmp_path / "list.yaml"
    f.write_text("- ports\n- routes\n")
    p = check(f)
    assert p.returncode == 1
    assert [(l, c) for l, c, _ in errors_of(p, f)] == [(1, 1)], p.stderr


def test_syntax_error_position(tmp_path):
    """A tab for indentation is a YAML error at the tab; nothing else is
    reported after a syntax error."""
    assert_errors(tmp_path, "tab.yaml", "ports:\n  wan0: { port: 0 }\n\tlan0: { port: 1 }\n",
                  [(3, 1, "YAML")])


@pytest.mark.parametrize("value", ["-1", '""'], ids=["negative", "empty"])
def test_port_that_is_neither_an_id_nor_a_device_name(tmp_path, value):
    """A port is an ethdev id (0..65535) or a device name; -1 is neither
    (a negative number, not a name), and an empty string names nothing."""
    assert_errors(tmp_path, "port.yaml", f"ports:\n  wan0: {{ port: {value} }}\n", [(2, 17, "port")])


@pytest.mark.parametrize("value,word", [("99999999999", "range"), ("65536", "range"), ("01", "01"),
                                        ("null", "port")])
def test_port_id_values(tmp_path, value, word):
    assert_errors(tmp_path, "port.yaml", f"ports:\n  wan0: {{ port: {value} }}\n", [(2, 17, word)])


KEY = "0x8f3a9c1e5b7d2f4a6c8e0b1d3f5a7c9e2b4d6f80"


def test_no_error_about_a_key_shows_it(tmp_path):
    """Whatever is wrong around a key (its length, a bad digit, its type, an
    unknown key beside it, a key where an address or an algorithm belongs),
    no part of it appears in what the gateway prints."""
    sa = "spi: {spi}, src: 192.168.0.1, dst: 192.168.0.2, interface: ipsec0"
    lines = [
        f"aead: aes-gcm-128, key: {KEY}1",
        f"aead: aes-gcm-128, key: {KEY}zz",
        f"aead: aes-gcm-128, key: [{KEY}]",
        f"enc: aes-cbc-128, enc-key: {KEY}, auth: hmac-sha256-128, auth-key: {KEY}00",
        f"aead: aes-gcm-128, key: {KEY}, secret: {KEY}",
        f'aead: aes-gcm-128, key: "{KEY[2:]}"',
        f"aead: {KEY}, key: {KEY}",
        f"aead: aes-gcm-128, key: {KEY}, replay-window: {KEY}{KEY[2:]}",
    ]
    text = "interfaces:\n  ipsec0: { tunnel: { local: 192.168.0.1, remote: 192.168.0.2 } }\nsas:\n" + \
        "".join(f"  - {{ {sa.format(spi=300 + i)}, {l} }}\n" for i, l in enumerate(lines)) + \
        f"  - {{ spi: 400, src: {KEY}, dst: 192.168.0.2, interface: ipsec0, aead: aes-gcm-128, key: {KEY} }}\n"
    f = tmp_path / "keys.yaml"
    f.write_text(text)
    p = check(f)
    assert p.returncode == 1
    got = errors_of(p, f)
    assert [l for l, _, _ in got] == [4, 5, 6, 7, 7, 8, 9, 10, 11, 12], p.stderr
    out = (p.stdout + p.stderr).lower()
    hexdigits = KEY[2:].lower()
    for i in range(0, len(hexdigits) - 8 + 1):
        assert hexdigits[i:i + 8] not in out, f"key fragment {hexdigits[i:i + 8]} echoed:\n{out}"


def test_good_file_exits_0_and_says_so_on_stdout_only(tmp_path):
    f = tmp_path / "good.yaml"
    f.write_text('ports:\n  wan0: { port: net_pcap0, address: [192.168.0.1/24, "2001:db8::1/64"], mtu: 0x5dc }\n'
                 "  lan0: { port: 0x1, address: [10.100.0.1/24] }\n"
                 "neighbors:\n  - { address: 192.168.0.2, lladdr: \"02:00:00:00:00:02\", dev: wan0 }\n"
                 "routes:\n  - { prefix: 0.0.0.0/0, via: 192.168.0.2, dev: wan0 }\n")
    p = check(f)
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_check_needs_no_eal_and_no_ports(tmp_path):
    """--check does not start DPDK: a port that does not exist here (id 7)
    is not an error of the file."""
    f = tmp_path / "ports.yaml"
    f.write_text("ports:\n  wan0: { port: 7 }\n  lan0: { port: net_ring3 }\n")
    p = check(f)
    assert p.returncode == 0, p.stderr
    assert "EAL" not in p.stdout + p.stderr


@pytest.mark.parametrize("args", [["-f"], ["-f", "/"], ["-f", "/nonexistent/dir/x.yaml"]],
                         ids=["no-file-name", "a-directory", "missing"])
def test_unreadable_configuration(args):
    p = run_ipsecgw(["--", "--check", *args])
    assert p.returncode == 1
    assert p.stderr.strip(), "an error must say what is wrong"


def test_a_bad_file_stops_the_gateway_before_traffic(tmp_path):
    """Without --check, the same errors are reported the same way and the
    gateway does not start (exit 1, nothing forwarded, no counters)."""
    from conftest import eal_args
    from scapy.all import wrpcap
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    f = tmp_path / "bad.yaml"
    f.write_text(PORTS_AND_ROUTES)
    wrpcap(str(tmp_path / "in.pcap"), [Ether() / IP(dst="8.8.8.8")] * 3)
    stats = tmp_path / "stats.json"
    p = run_ipsecgw(eal_args(f"badfile-{tmp_path.name}") + [
        "--vdev", f"net_pcap0,rx_pcap={tmp_path / 'in.pcap'},tx_pcap={tmp_path / 'out0.pcap'}",
        "--vdev", f"net_pcap1,rx_pcap={tmp_path / 'in.pcap'},tx_pcap={tmp_path / 'out1.pcap'}",
        "--", "-f", str(f), "--idle-exit", "100", "--stats-json", str(stats)])
    assert p.returncode == 1, p.stderr
    assert [(l, c) for l, c, _ in errors_of(p, f)] == [(l, c) for l, c, _ in PORTS_AND_ROUTES_ERRORS], p.stderr
    assert not stats.exists()
    for out in ("out0.pcap", "out1.pcap"):
        assert not (tmp_path / out).exists() or (tmp_path / out).stat().st_size <= 24
