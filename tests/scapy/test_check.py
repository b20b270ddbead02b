"""--check and start-up errors: the gateway binary itself reports every
problem of a file as FILE:LINE:COL, exits 1, and never echoes a key."""
import re

import pytest

from conftest import ROOT, eal_args, run_ipsecgw

GOOD = sorted((ROOT / "config").glob("*.yaml")) + sorted((ROOT / "config" / "examples").glob("*.yaml"))
BAD = sorted((ROOT / "config" / "bad").glob("*.yaml"))


def check(path):
    return run_ipsecgw(["--", "--check", "-f", str(path)])


def test_there_are_files_to_check():
    assert len(GOOD) >= 9 and len(BAD) >= 3


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_shipped_configs_are_valid(path):
    p = check(path)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_files_report_every_error_at_its_line(path):
    """Each file in config/bad lists the errors it must produce."""
    want = [m.group(1) for m in re.finditer(r"^# expect-error: (.*)$", path.read_text(), re.M)]
    p = check(path)
    assert p.returncode == 1
    got = [line[len(str(path)) + 1:] for line in p.stderr.splitlines()
           if line.startswith(str(path) + ":")
           and re.match(r"\d+:\d+: ", line[len(str(path)) + 1:])]
    assert len(got) == len(want), p.stderr
    for w in want:                  # a listed error is the start of a message
        assert any(g.startswith(w) for g in got), (w, got)
    pos = [tuple(map(int, g.split(":")[:2])) for g in got]
    assert pos == sorted(pos), "errors are reported in file order"
    assert p.stderr.rstrip().endswith(f"{path}: {len(want)} error{'s' if len(want) != 1 else ''}")


def test_errors_have_line_and_column(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("ports:\n"
                 "  wan0: { port: 0, address: [192.168.0.300/24] }\n"
                 "  lan0: { port: 1, colour: blue }\n"
                 "routes:\n"
                 "  - { prefix: 10.0.0.0/8, dev: nowhere }\n"
                 "  - { prefix: 10.1.0.0/16, via: 192.168.0.2 }\n")
    p = check(f)
    assert p.returncode == 1
    lines = [l for l in p.stderr.splitlines() if l.startswith(f"{f}:")]
    locs = [tuple(map(int, l.split(":")[1:3])) for l in lines if re.match(rf"{re.escape(str(f))}:\d+:\d+:", l)]
    assert (2, 30) in locs, p.stderr        # the bad address
    assert (3, 20) in locs, p.stderr        # the unknown key
    assert any(line == 5 for line, _ in locs), p.stderr   # unknown dev
    assert any(line == 6 for line, _ in locs), p.stderr   # route without dev
    assert len(locs) == 4, p.stderr


def test_yaml_syntax_error(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("ports:\n  wan0: { port: 0\n  lan0: [\n")
    p = check(f)
    assert p.returncode == 1
    assert re.search(rf"^{re.escape(str(f))}:\d+:\d+: ", p.stderr, re.M), p.stderr


def test_missing_file():
    p = check("/nonexistent/ipsecgw.yaml")
    assert p.returncode == 1
    assert "/nonexistent/ipsecgw.yaml" in p.stderr and "No such file" in p.stderr


def test_keys_are_never_echoed(tmp_path):
    key = "0x00112233445566778899aabbccddeeff0011"        # 18 bytes: wrong length
    f = tmp_path / "k.yaml"
    f.write_text("ports:\n  wan0: { port: 0, address: [192.168.0.1/24] }\n"
                 "interfaces:\n  ipsec0: { tunnel: { local: 192.168.0.1, remote: 192.168.0.2 } }\n"
                 "sas:\n"
                 f"  - {{ spi: 300, src: 192.168.0.1, dst: 192.168.0.2, interface: ipsec0, aead: aes-gcm-128, key: {key} }}\n"
                 f"  - {{ spi: {key}, src: 192.168.0.1, dst: 192.168.0.2, interface: ipsec0, aead: aes-gcm-128, key: {key} }}\n")
    p = check(f)
    assert p.returncode == 1
    out = p.stdout + p.stderr
    assert "aes-gcm-128 needs a key of 20 bytes" in out
    for frag in (key[2:], key[2:18], key[18:]):
        assert frag.lower() not in out.lower(), out


def test_good_check_prints_nothing_on_stderr(tmp_path):
    f = tmp_path / "g.yaml"
    f.write_text("ports:\n  wan0: { port: 0, address: [192.168.0.1/24] }\n")
    p = check(f)
    assert p.returncode == 0 and p.stderr == ""


def test_missing_ethdev_is_reported_at_its_line(tmp_path):
    """What only the running system can check is reported like a parse
    error, and the gateway does not start."""
    f = tmp_path / "p.yaml"
    f.write_text("ports:\n  wan0: { port: 0 }\n  lan0: { port: 5 }\n  dmz0: { port: net_pcap9 }\n")
    p = run_ipsecgw(eal_args("missing-port") + ["--vdev", f"net_null0", "--", "-f", str(f)])
    assert p.returncode == 1
    assert f"{f}:3:3: port lan0: no ethdev with port id 5" in p.stderr, p.stderr
    assert f"{f}:4:3: port dmz0: no ethdev named 'net_pcap9'" in p.stderr, p.stderr


def test_missing_crypto_device_is_reported(tmp_path):
    """A crypto driver that is not there is a configuration error at the
    crypto section's line, reported before any traffic flows."""
    src = (ROOT / "config" / "examples" / "ipsecif-netbsd-a.yaml").read_text()
    f = tmp_path / "qat.yaml"
    f.write_text("crypto: { driver: qat, mode: auto }\n" + src)
    p = run_ipsecgw(eal_args("no-qat") + ["--vdev", "net_null0", "--vdev", "net_null1",
                                          "--", "-f", str(f), "--idle-exit", "100"])
    assert p.returncode == 1
    assert f"{f}:1:" in p.stderr and "no QAT device" in p.stderr, p.stderr


def test_unsupported_algorithm_names_driver_and_algorithm(tmp_path):
    """aesni_gcm does only GCM: a CBC SA is refused with both names."""
    f = tmp_path / "gcm-only.yaml"
    f.write_text("crypto: { driver: aesni_gcm }\n"
                 "ports:\n  wan0: { port: 0, address: [192.168.0.1/24] }\n"
                 "interfaces:\n  ipsec0: { tunnel: { local: 192.168.0.1, remote: 192.168.0.2 } }\n"
                 "sas:\n  - { spi: 300, src: 192.168.0.1, dst: 192.168.0.2, interface: ipsec0,\n"
                 "      enc: aes-cbc-128, enc-key: 0x000102030405060708090a0b0c0d0e0f,\n"
                 "      auth: hmac-sha256-128, auth-key: 0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f }\n")
    p = run_ipsecgw(eal_args("gcm-only") + ["--vdev", "net_null0", "--", "-f", str(f), "--idle-exit", "100"])
    assert p.returncode == 1
    assert f"{f}:7:5:" in p.stderr and "aesni_gcm" in p.stderr and "aes-cbc-128" in p.stderr, p.stderr


def test_bad_options():
    assert run_ipsecgw(["--", "--idle-exit", "soon"]).returncode == 1
    assert run_ipsecgw(["--", "--no-such-option"]).returncode == 1
    p = run_ipsecgw(["--", "--help"])
    assert p.returncode == 0 and "--stats-json" in p.stdout
