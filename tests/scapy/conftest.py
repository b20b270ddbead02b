"""pcap replay harness for ipsecgw.

A test hands `gateway.run()` a configuration and, per port, a list of Scapy
packets.  The harness writes one input pcap per port, runs ipsecgw on
net_pcap ports (port N is the Nth --vdev) under --no-huge with its own
--file-prefix and --idle-exit, and returns what each port sent and every
counter from --stats-json.  After every run it checks what must always
hold: a clean exit, no sanitizer report, and every mbuf back in its pool.
"""
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.all import PcapReader, wrpcap
from scapy.layers.l2 import Ether

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("IPSECGW", ROOT / "build" / "ipsecgw"))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                   "SUMMARY: UndefinedBehaviorSanitizer")
_seq = itertools.count()


def check_no_sanitizer_report(text):
    for mark in SANITIZER_MARKS:
        assert mark not in text, f"sanitizer report:\n{text}"


def socket_path(tag="run"):
    """A control socket path of its own for one gateway (unix socket paths
    are short: it lives in /tmp, not in pytest's tmp_path)."""
    return f"/tmp/ipsecgw-test-{os.getpid()}-{next(_seq)}-{tag}.sock"


def with_socket(args):
    """Give a run its own control socket unless the test chose one, so that
    gateways run side by side."""
    if "--" in args and "-S" not in args and "--check" not in args:
        i = args.index("--") + 1
        args = args[:i] + ["-S", socket_path()] + args[i:]
    return args


def run_ipsecgw(args, timeout=120):
    """Run the binary with args; return the CompletedProcess (text).  EAL's
    runtime directory of the run's --file-prefix is removed afterwards."""
    args = with_socket(args)
    try:
        p = subprocess.run([str(BIN)] + args, capture_output=True, text=True, timeout=timeout)
    finally:
        if "--file-prefix" in args:
            prefix = args[args.index("--file-prefix") + 1]
            shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)
    check_no_sanitizer_report(p.stderr)
    return p


def eal_args(tag, lcores="0-1"):
    return ["--lcores" if "@" in lcores else "-l", lcores, "--no-huge", "-m", "512",
            "--no-pci", "--no-telemetry", "--log-level=*:warning",
            "--file-prefix", f"ipsecgw-test-{os.getpid()}-{tag}"]


def read_pcap(path):
    if not path.exists() or path.stat().st_size <= 24:
        return []
    with PcapReader(str(path)) as r:
        return [Ether(bytes(p)) for p in r]


def is_neighbor_frame(p):
    """ARP, or ICMPv6 router / neighbor discovery (types 133-137): what the
    gateway says as a host on its links (announcements when a port comes
    up, resolution), kept apart from the forwarded traffic."""
    b = bytes(p)
    if len(b) < 14:
        return False
    if b[12:14] == b"\x08\x06":
        return True
    return b[12:14] == b"\x86\xdd" and len(b) >= 55 and b[20] == 58 and 133 <= b[54] <= 137


class Result:
    def __init__(self, proc, stats, out):
        self.proc = proc
        self.stats = stats
        self.all = out            # port name -> [every frame sent]
        # port name -> [frames but ARP / ND]; those are in .nd
        self.out = {k: [p for p in v if not is_neighbor_frame(p)] for k, v in out.items()}
        self.nd = {k: [p for p in v if is_neighbor_frame(p)] for k, v in out.items()}

    def port(self, name):
        return self.stats["ports"][name]

    def drops(self, name=None):
        return (self.port(name) if name else self.stats)["drops"]

    def assert_only_drop(self, reason, count, port):
        """`count` drops under `reason` on `port`, and no other drop anywhere."""
        for p, s in self.stats["ports"].items():
            for r, n in s["drops"].items():
                want = count if (p, r) == (port, reason) else 0
                assert n == want, f"{p} drops[{r}] = {n}, expected {want}"
        for r, n in self.stats["drops"].items():
            assert n == (count if r == reason else 0), f"total drops[{r}] = {n}"


class Gateway:
    """Runs ipsecgw on net_pcap ports; one instance per test (tmp_path)."""

    def __init__(self, tmp_path):
        self.dir = tmp_path

    def run(self, config, inputs, ports=("wan0", "lan0"), lcores="0-1",
            idle_ms=250, expect_rc=0):
        n = next(_seq)
        d = self.dir / f"run{n}"
        d.mkdir()
        cfg = d / "ipsecgw.yaml"
        cfg.write_text(config)
        args = eal_args(f"{d.parent.name}-{n}", lcores)
        outs = {}
        for i, name in enumerate(ports):
            rx, tx = d / f"{name}-in.pcap", d / f"{name}-out.pcap"
            wrpcap(str(rx), inputs.get(name, []), linktype=1)
            outs[name] = tx
            args += ["--vdev", f"net_pcap{i},rx_pcap={rx},tx_pcap={tx}"]
        stats_path = d / "stats.json"
        args += ["--", "-f", str(cfg), "--idle-exit", str(idle_ms),
                 "--stats-json", str(stats_path)]
        p = run_ipsecgw(args)
        assert p.returncode == expect_rc, \
            f"ipsecgw exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        if expect_rc != 0:
            return Result(p, None, {})
        stats = json.loads(stats_path.read_text())
        mb = stats["mbufs"]
        assert mb["in_use_at_exit"] == 0, f"mbufs not returned: {mb}"
        assert mb["available_at_exit"] == mb["pool_size"] == mb["available_at_start"]
        return Result(p, stats, {name: read_pcap(path) for name, path in outs.items()})


@pytest.fixture
def gateway(tmp_path):
    if not BIN.exists():
        pytest.fail(f"{BIN} not built (meson setup build && ninja -C build)")
    return Gateway(tmp_path)


@pytest.fixture(scope="session")
def macs(tmp_path_factory):
    """The MAC address of each net_pcap port, learned from a run with no
    traffic (net_pcap chooses them; the tests do not hard-code them)."""
    gw = Gateway(tmp_path_factory.mktemp("macs"))
    names = ("p0", "p1", "p2")
    config = "ports:\n" + "".join(f"  {n}: {{ port: {i} }}\n" for i, n in enumerate(names))
    r = gw.run(config, {}, ports=names, idle_ms=50)
    return [r.port(n)["mac"] for n in names]


class Live:
    """A gateway that keeps running while a test talks to its control
    socket.  Ports are net_pcap; a port's input may loop for ever
    (infinite_rx) to keep traffic flowing.  stop() ends it with SIGTERM and
    checks what every run must hold (clean exit, no sanitizer report, every
    mbuf back)."""

    def __init__(self, tmp_path, config, inputs=None, ports=("wan0", "lan0"), lcores="0-1",
                 loop=(), capture=True, extra=()):
        self.dir = tmp_path / f"live{next(_seq)}"
        self.dir.mkdir()
        self.cfg = self.dir / "ipsecgw.yaml"
        self.cfg.write_text(config)
        self.sock = socket_path("live")
        self.stats_path = self.dir / "stats.json"
        self.outs = {}
        args = eal_args(f"live-{self.dir.parent.name}-{self.dir.name}", lcores)
        self.prefix = args[args.index("--file-prefix") + 1]
        for i, name in enumerate(ports):
            rx, tx = self.dir / f"{name}-in.pcap", self.dir / f"{name}-out.pcap"
            wrpcap(str(rx), (inputs or {}).get(name, []), linktype=1)
            dev = f"net_pcap{i},rx_pcap={rx}"
            if name in loop:
                dev += ",infinite_rx=1"
            if capture:
                dev += f",tx_pcap={tx}"
                self.outs[name] = tx
            args += ["--vdev", dev]
        args += ["--", "-f", str(self.cfg), "-S", self.sock, "--stats-json", str(self.stats_path)]
        args += list(extra)
        self.log = open(self.dir / "stderr.txt", "w+")
        self.proc = subprocess.Popen([str(BIN)] + args, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)
        self.conn = None
        self._wait_ready()

    def _wait_ready(self):
        import socket as so
        import time
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise AssertionError(f"ipsecgw exited {self.proc.returncode}:\n{self.log.read()}")
            try:
                s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
                s.connect(self.sock)
                self.conn = s
                self.rfile = s.makefile("r")
                return
            except OSError:
                s.close()
                time.sleep(0.05)
        raise AssertionError("ipsecgw's control socket never appeared")

    def connect(self):
        """Another client connection: (socket, line reader)."""
        import socket as so
        s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        s.connect(self.sock)
        return s, s.makefile("r")

    def raw(self, line, conn=None):
        s, f = conn or (self.conn, self.rfile)
        s.sendall(line.encode() + b"\n")
        reply = f.readline()
        assert reply.endswith("\n"), f"no reply line to {line!r}: {reply!r}"
        return json.loads(reply)

    def req(self, op, **fields):
        return self.raw(json.dumps({"op": op, **fields}))

    def ok(self, op, **fields):
        r = self.req(op, **fields)
        assert r["ok"] is True, f"{op} {fields}: {r}"
        return r

    def stop(self, expect_rc=0):
        import signal
        if self.conn is not None:
            self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=120)
        self.stdout = out
        self.log.seek(0)
        err = self.log.read()
        self.log.close()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        check_no_sanitizer_report(err)
        assert self.proc.returncode == expect_rc, f"ipsecgw exited {self.proc.returncode}:\n{err}"
        assert not os.path.exists(self.sock), "the socket file outlived the gateway"
        self.stats = json.loads(self.stats_path.read_text())
        mb = self.stats["mbufs"]
        assert mb["in_use_at_exit"] == 0, f"mbufs not returned: {mb}"
        self.stderr = err
        return self.stats

    def out(self, name, neighbor_frames=False):
        """What the port sent; ARP / ND frames only with neighbor_frames."""
        return [p for p in read_pcap(self.outs[name])
                if neighbor_frames or not is_neighbor_frame(p)]


@pytest.fixture
def live(tmp_path):
    """live(config, ...) starts a Live gateway; every one is stopped (and
    checked) at the end of the test, even when the test fails."""
    started = []

    def start(config, **kw):
        g = Live(tmp_path, config, **kw)
        started.append(g)
        return g
    yield start
    for g in started:
        if g.proc.poll() is None:
            g.proc.kill()
            g.proc.wait()
            shutil.rmtree(f"/var/run/dpdk/{g.prefix}", ignore_errors=True)
