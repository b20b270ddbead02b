"""The processes a benchmark runs: ipsecgw, dpdk-testpmd and
dpdk-test-crypto-perf, each with its own --file-prefix and --no-pci, on
hugepages when there are some (else --no-huge), and always stopped:
every child dies with the benchmark (PR_SET_PDEATHSIG) and is ended by
its pid, never by name."""
import ctypes
import glob
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

_children = set()
_seq = [0]
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, preexec_fn=_die_with_parent, start_new_session=True, **kw)
    _children.add(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=30):
    """End one child of ours by its pid: `sig`, then SIGKILL after timeout."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    _children.discard(p)
    return p.returncode


def stop_all():
    """Kill what is still running of ours, and remove the EAL runtime
    directories and hugepage files of this benchmark's prefixes."""
    for p in list(_children):
        stop(p, signal.SIGKILL, 5)
    for d in glob.glob(f"/var/run/dpdk/bench-*-{os.getpid()}-*"):
        shutil.rmtree(d, ignore_errors=True)
    for f in glob.glob(f"/dev/hugepages/bench-*-{os.getpid()}-*map_*"):
        try:
            os.unlink(f)
        except OSError:
            pass


class Eal:
    """EAL arguments for one process."""

    def __init__(self, huge, tag, mem_mb=1024):
        self.huge, self.tag, self.mem_mb = huge, tag, mem_mb

    def args(self, lcores):
        _seq[0] += 1
        self.prefix = f"bench-{self.tag}-{os.getpid()}-{_seq[0]}"
        a = ["--lcores" if "@" in lcores else "-l", lcores, "--no-pci",
             "--file-prefix", self.prefix, "--log-level=*:warning", "--no-telemetry"]
        a += ["--huge-unlink"] if self.huge else ["--no-huge", "-m", str(self.mem_mb)]
        return a

    def cleanup(self):
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        for f in glob.glob(f"/dev/hugepages/{self.prefix}map_*"):
            try:
                os.unlink(f)
            except OSError:
                pass


class LineReader(threading.Thread):
    """Collects a child's stdout lines; wait_for() blocks until a line
    matches or the child exits."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.lines, self.q = stream, [], queue.Queue()
        self.start()

    def run(self):
        for line in self.stream:
            self.lines.append(line)
            self.q.put(line)
        self.q.put(None)

    def wait_for(self, pred, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            if pred(line):
                return line


def _tail(path, n=6):
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip() for l in f if l.strip() and not l.startswith(("EAL:", "TELEMETRY"))]
        return " | ".join(lines[-n:])
    except OSError:
        return ""


# --- the control socket ---------------------------------------------------------------

class Ctl:
    def __init__(self, path, timeout=60):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def raw(self, line):
        self.s.sendall(line.encode() + b"\n")
        reply = self.f.readline()
        if not reply.endswith(b"\n"):
            raise RuntimeError(f"no reply to {line[:60]!r}")
        return json.loads(reply)

    def req(self, op, **fields):
        return self.raw(json.dumps({"op": op, **fields}))

    def close(self):
        self.f.close()
        self.s.close()


def connect(path, proc, timeout=30):
    end = time.monotonic() + timeout
    while True:
        try:
            return Ctl(path)
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                raise
            time.sleep(0.05)


# --- ipsecgw ----------------------------------------------------------------------------

class Gateway:
    """One ipsecgw process: started, waited for ("running"), measured
    through the control socket, stopped with SIGTERM."""

    def __init__(self, binary, eal, workdir, cfg_text, vdevs, lcores="0-1", start_timeout=120,
                 cfg_path=None, options=()):
        self.dir = workdir
        _seq[0] += 1
        n = _seq[0]
        self.cfg = cfg_path or os.path.join(workdir, f"gw{n}.yaml")
        if cfg_path is None:
            with open(self.cfg, "w") as f:
                f.write(cfg_text)
        self.sock = f"/tmp/ipsecgw-bench-{os.getpid()}-{n}.sock"
        self.stats_path = os.path.join(workdir, f"gw{n}-stats.json")
        self.err_path = os.path.join(workdir, f"gw{n}-stderr.txt")
        self.eal = eal
        cmd = [binary] + eal.args(lcores)
        for v in vdevs:
            cmd += ["--vdev", v]
        cmd += ["--", "-f", self.cfg, "-S", self.sock, "--stats-json", self.stats_path]
        cmd += list(options)
        self.cmd = cmd
        with open(os.path.join(workdir, f"gw{n}-cmd.txt"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        self.err = open(self.err_path, "w")
        self.t0 = time.monotonic()
        self.proc = spawn(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.out = LineReader(self.proc.stdout)
        line = self.out.wait_for(lambda l: "; running" in l, start_timeout)
        self.start_time = time.monotonic() - self.t0
        self.error = None
        self.ctl = None
        if line is None:
            self.error = self._why("did not start")
            self.stop()
            return
        try:
            self.ctl = connect(self.sock, self.proc)
        except OSError as e:
            self.error = f"control socket: {e}"
            self.stop()

    def _why(self, what):
        self.err.flush()
        if self.proc.poll() is None and what == "did not start":
            what = "no 'running' line in time"
        out = " | ".join(l.strip() for l in self.out.lines[-4:] if l.strip())
        return f"{what} (exit {self.proc.poll()}): {out} {_tail(self.err_path)}".strip()

    def stats(self):
        t1 = time.monotonic()
        # brief: ports, drops and totals, without every interface and SA
        # (100 000 tunnels make a document of many megabytes)
        r = self.ctl.req("stats", brief=True)
        t2 = time.monotonic()
        if not r.get("ok"):
            raise RuntimeError(f"stats: {r}")
        return (t1 + t2) / 2, r["stats"]

    def stop(self):
        """SIGTERM; returns a note if the exit was not clean (exit status,
        mbufs not back in the pool)."""
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        rc = stop(self.proc, signal.SIGTERM, 60)
        self.out.join(5)
        self.err.close()
        self.eal.cleanup()
        note = None
        if self.error is None:
            if rc != 0:
                note = f"ipsecgw exited {rc} on SIGTERM: {_tail(self.err_path)}"
            else:
                try:
                    with open(self.stats_path) as f:
                        mb = json.load(f)["mbufs"]
                    if mb.get("in_use_at_exit"):
                        note = f"{mb['in_use_at_exit']} mbufs not back at exit"
                except (OSError, ValueError, KeyError) as e:
                    note = f"no --stats-json at exit ({e})"
        return note


def port_sum(st, port, field):
    return st["ports"][port][field]


def measure_gateway(gw, rx_port, sink_port, warmup, duration, runs):
    """Rates of one running gateway: `runs` windows of `duration` seconds
    after `warmup`; each window's rate is the sink port's forwarded packets
    over the window.  Returns {rates, rx_rates, drop_frac, drops}."""
    time.sleep(warmup)
    t_prev, s_prev = gw.stats()
    rates, rx_rates, drops, dropfrac = [], [], {}, []
    for _ in range(runs):
        time.sleep(duration)
        t, s = gw.stats()
        dt = t - t_prev
        tx = port_sum(s, sink_port, "tx_packets") - port_sum(s_prev, sink_port, "tx_packets")
        rx = port_sum(s, rx_port, "rx_packets") - port_sum(s_prev, rx_port, "rx_packets")
        rates.append(tx / dt)
        rx_rates.append(rx / dt)
        d_now = s.get("drops", {})
        d_prev = s_prev.get("drops", {})
        dsum = 0
        for reason, v in d_now.items():
            dv = v - d_prev.get(reason, 0)
            if dv:
                drops[reason] = drops.get(reason, 0) + dv
                dsum += dv
        dropfrac.append(dsum / rx if rx else 1.0)
        t_prev, s_prev = t, s
    return {"rates": rates, "rx_rates": rx_rates, "drop_frac": max(dropfrac) if dropfrac else 0,
            "drops": drops}


# --- dpdk-testpmd ---------------------------------------------------------------------

def run_testpmd(binary, eal, workdir, pcaps, warmup, duration, runs, mbufs=8191):
    """io forwarding from net_pcap (infinite_rx, one queue per pcap) to
    net_null on one forwarding core; the rate is testpmd's own Tx-pps of
    the null port, one value per stats period after the warm-up."""
    period = max(1, int(round(duration)))
    skip = 1 + max(1, int(-(-warmup // period)))       # the t=0 print, then the warm-up
    rx = ",".join(f"rx_pcap={p}" for p in pcaps)
    cmd = ["stdbuf", "-oL", binary] + eal.args("0-1") + [
        "--vdev", f"net_pcap0,{rx},infinite_rx=1", "--vdev", "net_null0,no-rx=1",
        "--", "--forward-mode=io", "--auto-start", f"--stats-period={period}",
        f"--total-num-mbufs={mbufs}", "--nb-cores=1", "--burst=32",
        f"--rxq={len(pcaps)}", f"--txq={len(pcaps)}"]
    log = os.path.join(workdir, f"testpmd-{eal.prefix}.txt")
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    r = LineReader(p.stdout)
    rates, port, error = [], None, None
    need = skip + runs
    seen = 0
    deadline = time.monotonic() + 60 + need * period * 2
    while seen < need:
        line = r.wait_for(lambda l: True, max(0.1, deadline - time.monotonic()))
        if line is None:
            error = "testpmd stopped or gave no statistics in time"
            break
        m = re.search(r"NIC statistics for port (\d+)", line)
        if m:
            port = int(m.group(1))
            continue
        m = re.search(r"Tx-pps:\s+(\d+)", line)
        if m and port == 1:
            seen += 1
            if seen > skip:
                rates.append(float(m.group(1)))
    stop(p, signal.SIGINT, 20)
    r.join(5)
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n")
        f.writelines(r.lines)
    eal.cleanup()
    if error and not rates:
        error += ": " + " | ".join(l.strip() for l in r.lines[-5:])
    return {"rates": rates, "error": error if not rates else None}


# --- dpdk-test-crypto-perf -------------------------------------------------------------

CPERF_ALGS = {
    "aes-gcm-128": ["--optype", "aead", "--aead-algo", "aes-gcm", "--aead-key-sz", "16",
                    "--aead-iv-sz", "12", "--aead-aad-sz", "8", "--digest-sz", "16"],
    "aes-gcm-256": ["--optype", "aead", "--aead-algo", "aes-gcm", "--aead-key-sz", "32",
                    "--aead-iv-sz", "12", "--aead-aad-sz", "8", "--digest-sz", "16"],
    "chacha20-poly1305": ["--optype", "aead", "--aead-algo", "chacha20-poly1305",
                          "--aead-key-sz", "32", "--aead-iv-sz", "12", "--aead-aad-sz", "8",
                          "--digest-sz", "16"],
    "aes-cbc-128+hmac-sha256-128": ["--cipher-algo", "aes-cbc", "--cipher-key-sz", "16",
                                    "--cipher-iv-sz", "16", "--auth-algo", "sha2-256-hmac",
                                    "--auth-key-sz", "32", "--digest-sz", "16"],
}


def _cperf_vector(workdir):
    """crypto-perf wants test vectors for an auth 'verify' operation; the
    throughput test does not care whether the digest matches (a mismatch
    costs the same work), so random bytes do."""
    path = os.path.join(workdir, "cperf-vector.data")
    if not os.path.exists(path):
        rnd = os.urandom
        with open(path, "w") as f:
            for name, n in (("plaintext", 4096), ("ciphertext", 4096), ("cipher_key", 32),
                            ("cipher_iv", 16), ("auth_key", 64), ("digest", 64)):
                f.write(f"{name} =\n" + ", ".join(f"0x{b:02x}" for b in rnd(n)) + "\n\n")
    return path


def run_crypto_perf(binary, eal, workdir, alg, op, buf_sizes, runs, ops, imix=None):
    """Throughput of crypto_aesni_mb on one lcore.  Without imix: one
    invocation, a warm-up pass and then `runs` passes of the one buffer
    size; with imix (a distribution over buf_sizes): one invocation per run.
    Returns {rates (ops/s)}."""
    dev = ["--vdev", "crypto_aesni_mb0"]
    base = ["--", "--devtype", "crypto_aesni_mb", "--ptest", "throughput", "--silent",
            "--csv-friendly", "--total-ops", str(ops), "--burst-sz", "32"]
    a = list(CPERF_ALGS[alg])
    if ALG_AEAD(alg):
        a += ["--aead-op", "encrypt" if op == "encrypt" else "decrypt"]
    elif op == "encrypt":
        a += ["--optype", "cipher-then-auth", "--cipher-op", "encrypt", "--auth-op", "generate"]
    else:
        a += ["--optype", "auth-then-cipher", "--cipher-op", "decrypt", "--auth-op", "verify",
              "--test-file", _cperf_vector(workdir)]
    invocations = []
    if imix:
        for _ in range(runs):
            invocations.append(["--buffer-sz", ",".join(map(str, buf_sizes)),
                                "--imix", ",".join(map(str, imix))])
        skip = 0
    else:
        invocations.append(["--buffer-sz", ",".join([str(buf_sizes[0])] * (runs + 1))])
        skip = 1
    rates, error = [], None
    for inv in invocations:
        cmd = [binary] + eal.args("0-1") + dev + base + a + inv
        p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            stop(p, signal.SIGKILL)
            out = ""
        _children.discard(p)
        eal.cleanup()
        with open(os.path.join(workdir, f"cperf-{eal.prefix}.txt"), "w") as f:
            f.write(" ".join(cmd) + "\n" + out)
        vals = []
        for line in out.splitlines():
            f = line.split(",")
            if len(f) == 10 and f[0].strip().isdigit():
                vals.append(float(f[7]) * 1e6)
        if not vals:
            error = "crypto-perf: " + " | ".join(l for l in out.splitlines()[-4:] if l.strip())
            break
        rates += vals[skip:]
    return {"rates": rates, "error": error if not rates else None}


def ALG_AEAD(alg):
    return "+" not in alg
