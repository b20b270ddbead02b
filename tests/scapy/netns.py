"""Real Linux hosts in network namespaces, talking through two ipsecgw
gateways: the harness of the end-to-end tests (test_e2e_*.py).

  ns hx            ns ga                 ns wire              ns gb                ns hy
 Host_X  eth0 ~~~ lan0 [gateway A] wan0 ~~~ a  br0  b ~~~ wan0 [gateway B] lan0 ~~~ eth0  Host_Y
  (kernel)         (ipsecgw)              (bridge, or a          (ipsecgw)            (kernel)
                                           router: a and b
                                           on two subnets)
  ~~~ is a veth pair; the gateway's ends are its DPDK ports (net_af_packet on
  the veth end; or net_tap for A's lan0, whose kernel side is moved to hx).

Every namespace is named ipg<pid>-<n>-<name> (ipg4242-1-hx, ...), so that
runs and tests side by side do not meet.  `Netns.close()` (the `net`
fixture's finalizer, run even when the test fails) kills every process
started in them, deletes them (and with them every veth), and removes the
gateways' DPDK runtime directories and sockets; namespaces left by a run
that was killed are removed when this module is next imported.

What the kernel would otherwise do to the gateways' traffic:
  - checksum and segmentation offloads are off on every veth end (hosts'
    too): with them a host hands the veth partial checksums and 64 KB GSO
    frames, which a PMD reading raw frames would forward as they are;
  - IPv6 is off in the gateways' and the wire's namespaces (the veth ends,
    the bridge), and none of those ends has an IPv4 address, so the kernel
    never answers or sends anything there: the gateways alone speak on the
    wire, and a capture there shows only what they sent.
Hosts keep IPv6 and the default MTU of 1500.

Every command run is kept in `Netns.commands` (and written to
commands.sh in the test's directory): docs/walkthrough.md shows the same.
"""
import ipaddress
import itertools
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import BIN, Live, eal_args, socket_path

IP = shutil.which("ip") or "/usr/sbin/ip"
TAG = f"ipg{os.getpid()}"
_seq = itertools.count(1)

# af_packet's ring: 4096 frames of 2 KB per queue instead of 512, so that a
# gateway descheduled for a few milliseconds (two gateways, the hosts and a
# capture share two cores) does not overflow it.
AF_PACKET_ARGS = "qpairs=1,blocksz=4096,framesz=2048,framecnt=4096"


def unavailable():
    """Why network namespaces cannot be used here, or None."""
    if not os.path.exists(IP):
        return "no ip(8) (iproute2)"
    probe = f"{TAG}-probe"
    p = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True)
    if p.returncode != 0:
        return f"ip netns add fails: {p.stderr.strip()}"
    subprocess.run([IP, "netns", "del", probe], capture_output=True)
    return None


def reap_stale():
    """Delete the namespaces of test runs that died without cleaning up
    (killed pytest): ipg<pid>-... whose pid is gone; kill what still runs
    in them first."""
    p = subprocess.run([IP, "netns", "list"], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        head = name.split("-")[0]
        if not (head.startswith("ipg") and head[3:].isdigit()):
            continue
        if os.path.exists(f"/proc/{head[3:]}"):
            continue
        pids = subprocess.run([IP, "netns", "pids", name], capture_output=True, text=True)
        for pid in pids.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run([IP, "netns", "del", name], capture_output=True)
    for d in Path("/var/run/dpdk").glob("ipsecgw-test-*-e2e-*"):
        pid = d.name.split("-")[2]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(d, ignore_errors=True)


_REASON = unavailable()
if _REASON is None:
    reap_stale()
requires_netns = pytest.mark.skipif(_REASON is not None,
                                    reason=f"network namespaces unavailable: {_REASON}")


def tool(name):
    """A tool the tests need: its absolute path, or the test fails (not
    skips) saying how to get it."""
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"{name} not installed (scripts/setup.sh installs it)")
    return path


class Netns:
    """The namespaces, links and processes of one test."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.tag = f"{TAG}-{next(_seq)}"
        self.spaces = []          # full names, in creation order
        self.ipv6 = {}
        self.procs = []           # every Popen started in a namespace
        self.gateways = []
        self.commands = []

    def ns(self, short):
        return f"{self.tag}-{short}"

    # -- commands ------------------------------------------------------------

    def _log(self, argv):
        self.commands.append(" ".join(shlex.quote(str(a)) for a in argv))

    def ip(self, short, *args, check=True):
        """ip -n <ns> ARGS."""
        return self.sh(None, IP, "-n", self.ns(short), *args, check=check)

    def sh(self, short, *argv, check=True, timeout=60, input=None):
        """Run argv in namespace `short` (None: here) and wait for it."""
        argv = [str(a) for a in argv]
        if short is not None:
            argv = [IP, "netns", "exec", self.ns(short)] + argv
        self._log(argv)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
        if check:
            assert p.returncode == 0, \
                f"{' '.join(argv)}: exit {p.returncode}\n{p.stdout}{p.stderr}"
        return p

    def popen(self, short, argv, **kw):
        """Start argv in namespace `short`; close() ends it if it still runs.
        `ip netns exec` execs the command: the pid is the command's."""
        argv = [IP, "netns", "exec", self.ns(short)] + [str(a) for a in argv]
        self._log(argv + ["&"])
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    # -- building ------------------------------------------------------------

    def add(self, short, ipv6=True):
        """A namespace with its loopback up; ipv6=False turns IPv6 off in
        it before any link is made, so that no link ever gets an address."""
        name = self.ns(short)
        if name in self.spaces:
            return name
        self.sh(None, IP, "netns", "add", name)
        self.spaces.append(name)
        self.ipv6[short] = ipv6
        if not ipv6:
            self.sh(short, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1")
        self.ip(short, "link", "set", "dev", "lo", "up")
        return name

    def link_up(self, short, ifname, offloads=True):
        """Offloads off, IPv6 off where the namespace has none, then up."""
        if offloads:
            self.sh(short, tool("ethtool"), "-K", ifname, "tx", "off", "rx", "off", "tso", "off",
                    "gso", "off", "gro", "off")
        if not self.ipv6[short]:
            self.sh(short, "sysctl", "-q", "-w", f"net.ipv6.conf.{ifname}.disable_ipv6=1")
        self.ip(short, "link", "set", "dev", ifname, "up")

    def veth(self, a, a_if, b, b_if):
        """A veth pair from namespace a (a_if) to namespace b (b_if), up."""
        self.sh(None, IP, "link", "add", a_if, "netns", self.ns(a), "type", "veth",
                "peer", "name", b_if, "netns", self.ns(b))
        self.link_up(a, a_if)
        self.link_up(b, b_if)

    def bridge(self, short, name, members):
        # no multicast snooping: with it the bridge joins 224.0.0.106 (RFC
        # 4286's snoopers) and says so with IGMP on the wire
        self.ip(short, "link", "add", name, "type", "bridge", "mcast_snooping", "0")
        for m in members:
            self.ip(short, "link", "set", "dev", m, "master", name)
        self.link_up(short, name, offloads=False)

    def host(self, short, ifname, addrs, routers):
        """Addresses (IPv6 without duplicate address detection, so that they
        are usable at once) and a default route per family."""
        for a in addrs:
            extra = ["nodad"] if ":" in a else []
            self.ip(short, "addr", "add", a, "dev", ifname, *extra)
        for r in map(str, routers):
            self.ip(short, "-6" if ":" in r else "-4", "route", "add", "default", "via", r)

    def link_stats(self, short, ifname):
        """The kernel's counters of a link: {'rx': {...}, 'tx': {...}}."""
        p = self.ip(short, "-s", "-j", "link", "show", "dev", ifname)
        return json.loads(p.stdout)[0]["stats64"]

    # -- ending --------------------------------------------------------------

    def diagnose(self):
        """What to add to a failure message: every gateway that has exited
        although no test stopped it, with the end of what it said."""
        out = []
        for g in self.gateways:
            if g.proc.poll() is not None and not g.stopped:
                g.log.flush()
                tail = Path(g.log.name).read_text()[-3000:]
                out.append(f"gateway {g.dir.name} exited {g.proc.returncode}:\n{tail}")
        return "\n".join(out)

    def close(self):
        """Kill what runs in our namespaces, delete them, and remove what
        the gateways leave behind; go on past every error.  A gateway that
        died by itself fails the test here too."""
        errors = []
        died = self.diagnose()
        if died:
            errors.append(died)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired as e:
                errors.append(str(e))
        for name in reversed(self.spaces):
            p = subprocess.run([IP, "netns", "pids", name], capture_output=True, text=True)
            for pid in p.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for name in reversed(self.spaces):
            p = subprocess.run([IP, "netns", "del", name], capture_output=True, text=True)
            if p.returncode != 0:
                errors.append(f"ip netns del {name}: {p.stderr.strip()}")
        self.spaces = []
        for g in self.gateways:
            shutil.rmtree(f"/var/run/dpdk/{g.prefix}", ignore_errors=True)
            if os.path.exists(g.sock):
                os.unlink(g.sock)
        try:
            (self.tmp / "commands.sh").write_text("\n".join(self.commands) + "\n")
        except OSError:
            pass
        assert not errors, "cleaning up: " + "; ".join(errors)


@pytest.fixture
def net(tmp_path):
    """A Netns for the test, closed even when the test fails."""
    n = Netns(tmp_path)
    try:
        yield n
    finally:
        n.close()


# -- gateways -------------------------------------------------------------------

def af_packet(i, iface):
    return f"net_af_packet{i},iface={iface},{AF_PACKET_ARGS}"


def tap(i, iface):
    return f"net_tap{i},iface={iface}"


class NsGateway(Live):
    """ipsecgw in a namespace, on the given vdevs (port N is the Nth), with
    a control socket and --stats-json.  Live's requests (ok, req) and stop()
    (SIGTERM, then: clean exit, no sanitizer report, every mbuf back)
    apply."""

    def __init__(self, net, short, config, vdevs, lcores, name=None):
        name = name or short
        self.dir = net.tmp / f"gw-{name}-{len(net.gateways)}"
        self.dir.mkdir()
        self.cfg = self.dir / "ipsecgw.yaml"
        self.cfg.write_text(config)
        self.sock = socket_path(name)
        self.stats_path = self.dir / "stats.json"
        self.outs = {}
        args = eal_args(f"e2e-{net.tag.split('-')[1]}-{name}", lcores)   # ...-e2e-<n>-a
        self.prefix = args[args.index("--file-prefix") + 1]
        for v in vdevs:
            args += ["--vdev", v]
        args += ["--", "-f", self.cfg, "-S", self.sock, "--stats-json", self.stats_path]
        self.log = open(self.dir / "stderr.txt", "w+")
        self.conn = None
        self.stopped = False
        self.proc = net.popen(short, [BIN] + args, stdout=subprocess.PIPE, stderr=self.log,
                              text=True)
        net.gateways.append(self)
        self._wait_ready()

    def stop(self, expect_rc=0):
        self.stopped = True
        return super().stop(expect_rc)

    @staticmethod
    def sa(stats, spi):
        """SA `spi` in a statistics document."""
        return next(s for s in stats["sas"] if s["spi"] == spi)


# -- traffic ----------------------------------------------------------------------

def ping(net, short, addr, count=3, deadline=10):
    """`count` echo replies from addr within `deadline` seconds (a lost
    first request while a neighbor resolves is sent again)."""
    p = net.sh(short, tool("ping"), "-n", "-c", count, "-i", "0.2", "-w", deadline, addr,
               check=False, timeout=deadline + 10)
    assert p.returncode == 0, \
        f"ping {addr} from {short}:\n{p.stdout}{p.stderr}{net.diagnose()}"
    return p.stdout


SINK = r"""
import hashlib, socket, sys
port, out, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", port))
s.listen(1)
s.settimeout(timeout)
print("ready", flush=True)
c, peer = s.accept()
c.settimeout(timeout)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 18)
    if not b:
        break
    h.update(b)
    n += len(b)
with open(out, "w") as f:
    f.write(f"{n} {h.hexdigest()}\n")
c.close()
"""

SOURCE = r"""
import hashlib, os, socket, sys, time
addr, port, n, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
h, left = hashlib.sha256(), n
t = time.monotonic()
s = socket.create_connection((addr, port), timeout=timeout)
while left:
    b = os.urandom(min(left, 1 << 20))
    h.update(b)
    s.sendall(b)
    left -= len(b)
s.shutdown(socket.SHUT_WR)
s.recv(1)                       # the sink closes once it has read everything
print(n, h.hexdigest(), round(time.monotonic() - t, 3))
"""

PYTHON = "/usr/bin/python3"


def tcp_transfer(net, src, dst, addr, nbytes, port=5001, timeout=45):
    """Send nbytes of random data from namespace src to addr (a host in
    namespace dst) over TCP; the sink writes the sha256 of what it read to
    a file.  Returns (seconds, what the source sent, what the sink got),
    each of the last two as "bytes sha256"."""
    out = net.tmp / f"sink-{port}.txt"
    sink = net.popen(dst, [PYTHON, "-c", SINK, port, out, timeout], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready", sink.stderr.read()
    p = net.sh(src, PYTHON, "-c", SOURCE, addr, port, nbytes, timeout, check=False,
               timeout=timeout + 15)
    try:
        sink.wait(timeout=15)
    except subprocess.TimeoutExpired:
        sink.kill()
    assert p.returncode == 0, \
        f"TCP source to {addr}: exit {p.returncode}\n{p.stderr}{net.diagnose()}"
    assert sink.returncode == 0, f"TCP sink: {sink.stderr.read()}"
    n, digest, secs = p.stdout.split()
    return float(secs), f"{n} {digest}", out.read_text().strip()


@dataclass
class Frame:
    """One captured frame, the fields the tests look at (parsed by hand:
    Scapy dissects a few thousand frames a second, a transfer puts tens of
    thousands on the wire).  `summary()` asks Scapy, for messages."""
    raw: bytes
    wirelen: int
    ethertype: int
    proto: int = None             # IPv4's protocol
    src: str = None               # IPv4 source, or ARP's sender address
    dst: str = None               # IPv4 destination, or ARP's target address
    spi: int = None               # ESP's SPI

    def summary(self):
        from scapy.layers.l2 import Ether
        return f"{self.wirelen} bytes: {Ether(self.raw).summary()}"

    @classmethod
    def parse(cls, raw, wirelen):
        f = cls(raw, wirelen, int.from_bytes(raw[12:14], "big") if len(raw) >= 14 else 0)
        if f.ethertype == 0x0800 and len(raw) >= 34:
            ihl = (raw[14] & 0xF) * 4
            f.proto = raw[23]
            f.src, f.dst = socket.inet_ntoa(raw[26:30]), socket.inet_ntoa(raw[30:34])
            if f.proto == 50 and len(raw) >= 14 + ihl + 4:
                f.spi = int.from_bytes(raw[14 + ihl:18 + ihl], "big")
        elif f.ethertype == 0x0806 and len(raw) >= 42:
            f.src, f.dst = socket.inet_ntoa(raw[28:32]), socket.inet_ntoa(raw[38:42])
        return f


class Capture:
    """tcpdump -w on one link of a namespace; stop() returns the Frames
    (cut at `snaplen` bytes, each with its wire length), read with Scapy's
    RawPcapReader, and checks that the kernel dropped none of them for the
    capture."""

    def __init__(self, net, short, ifname, snaplen=128):
        self.path = net.tmp / f"{short}-{ifname}.pcap"
        self.err = net.tmp / f"{short}-{ifname}.tcpdump.txt"
        self.errf = open(self.err, "w")
        self.proc = net.popen(short, [tool("tcpdump"), "-i", ifname, "-n", "-U", "-s", snaplen,
                                      "-B", 16384, "-Z", "root", "-w", self.path],
                              stdout=subprocess.DEVNULL, stderr=self.errf)
        deadline = time.monotonic() + 20
        while "listening on" not in self.err.read_text():
            assert self.proc.poll() is None, f"tcpdump: {self.err.read_text()}"
            assert time.monotonic() < deadline, "tcpdump never started listening"
            time.sleep(0.05)

    def stop(self):
        """Once tcpdump has written what it was given (-U writes each
        packet as it takes it: the file stops growing), stop it; frames it
        had been handed but not yet taken when the signal came would be
        missing from the file (its "received by filter" count says so)."""
        from scapy.utils import RawPcapReader
        size, still, deadline = -1, 0, time.monotonic() + 10
        while still < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.path.stat().st_size if self.path.exists() else 0
            still = still + 1 if now == size else 0
            size = now
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)
        self.errf.close()
        text = self.err.read_text()
        dropped = [line for line in text.splitlines() if "dropped by kernel" in line]
        assert dropped and dropped[0].split()[0] == "0", f"tcpdump lost packets:\n{text}"
        got = [line for line in text.splitlines() if "captured" in line]
        seen = [line for line in text.splitlines() if "received by filter" in line]
        assert got and seen and got[0].split()[0] == seen[0].split()[0], \
            f"tcpdump stopped before writing every packet it was given:\n{text}"
        r = RawPcapReader(str(self.path))
        try:
            return [Frame.parse(raw, meta.wirelen) for raw, meta in r]
        finally:
            r.close()


# -- two gateways and their hosts ------------------------------------------------

def _host_of(prefixed):
    """The first address after the gateway's on its subnet: the host's."""
    i = ipaddress.ip_interface(prefixed)
    return f"{i.ip + 1}/{i.network.prefixlen}"


@dataclass
class Side:
    """One gateway's addresses, taken from its configuration file: wan0's
    address, lan0's addresses, and its default router on the wire when the
    gateways are not on one subnet.  Its host takes the next address after
    the gateway's on each of lan0's subnets."""
    wan: str
    lan: list
    router: str = None
    hosts: list = field(init=False)

    def __post_init__(self):
        self.hosts = [_host_of(a) for a in self.lan]

    @classmethod
    def from_config(cls, text):
        c = yaml.safe_load(text)
        wan = c["ports"]["wan0"]["address"][0]
        router = None
        for r in c.get("routes", []):
            if r["prefix"] == "0.0.0.0/0" and r.get("dev") == "wan0":
                plen = ipaddress.ip_interface(wan).network.prefixlen
                router = f"{r['via']}/{plen}"
        return cls(wan=wan, lan=list(c["ports"]["lan0"].get("address", [])), router=router)

    def host_addr(self, family=4):
        return next(str(ipaddress.ip_interface(h).ip) for h in self.hosts
                    if ipaddress.ip_interface(h).version == family)

    def gw_addr(self, family=4):
        return next(str(ipaddress.ip_interface(a).ip) for a in self.lan
                    if ipaddress.ip_interface(a).version == family)


class TwoGateways:
    """Host_X -- A -- wire -- B -- Host_Y, built from two Sides.  The wire
    is a bridge, or, when the gateways reach each other through a default
    router (sec(4)'s example), a router with each Side's default-router
    address (IPv4 forwarding on, no IPv6).
    lan_a='tap' makes gateway A's lan0 a net_tap whose kernel side is moved
    into Host_X's namespace once A has made it."""

    A_LCORES = "0@0,1@0"          # gateway A: both threads on core 0
    B_LCORES = "0@1,1@1"          # gateway B: both on core 1

    def __init__(self, net, a, b, lan_a="af_packet"):
        self.net, self.a, self.b, self.lan_a = net, a, b, lan_a
        for short, v6 in (("hx", True), ("ga", False), ("wire", False), ("gb", False),
                          ("hy", True)):
            net.add(short, ipv6=v6)
        if lan_a == "af_packet":
            net.veth("hx", "eth0", "ga", "lan0")
            net.host("hx", "eth0", a.hosts, [ipaddress.ip_interface(g).ip for g in a.lan])
        net.veth("ga", "wan0", "wire", "a")
        net.veth("gb", "wan0", "wire", "b")
        net.veth("hy", "eth0", "gb", "lan0")
        net.host("hy", "eth0", b.hosts, [ipaddress.ip_interface(g).ip for g in b.lan])
        if a.router is None:
            self.wire_if = "br0"
            net.bridge("wire", "br0", ["a", "b"])
        else:
            self.wire_if = "a"
            net.ip("wire", "addr", "add", a.router, "dev", "a")
            net.ip("wire", "addr", "add", b.router, "dev", "b")
            net.sh("wire", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        self.gw_a = self.gw_b = None

    def start(self, config_a, config_b):
        net = self.net
        lan = af_packet(1, "lan0") if self.lan_a == "af_packet" else tap(0, "lan0")
        self.gw_a = NsGateway(net, "ga", config_a, [af_packet(0, "wan0"), lan],
                              self.A_LCORES, name="a")
        if self.lan_a == "tap":
            # net_tap made lan0 in ga, with the gateway's own MAC address on
            # the kernel side too: move it to Host_X, name it eth0, give it
            # an address of its own.
            net.ip("ga", "link", "set", "dev", "lan0", "netns", net.ns("hx"))
            net.ip("hx", "link", "set", "dev", "lan0", "name", "eth0")
            net.ip("hx", "link", "set", "dev", "eth0", "address", "02:00:00:00:00:02")
            net.link_up("hx", "eth0")
            net.host("hx", "eth0", self.a.hosts,
                     [ipaddress.ip_interface(g).ip for g in self.a.lan])
        self.gw_b = NsGateway(net, "gb", config_b, [af_packet(0, "wan0"), af_packet(1, "lan0")],
                              self.B_LCORES, name="b")
        return self.gw_a, self.gw_b

