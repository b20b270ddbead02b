"""Exit on a signal (no --idle-exit): the traffic read so far is forwarded,
the counters are written, and every mbuf is back in its pool."""
import json
import signal
import subprocess
import time

import pytest
from scapy.all import rdpcap, wrpcap
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from conftest import BIN, check_no_sanitizer_report, eal_args, is_neighbor_frame
from net import CONFIG, HOST, R2, forwarded


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_exit_is_clean(tmp_path, macs, sig):
    if not BIN.exists():
        pytest.fail(f"{BIN} not built")
    wan, lan = macs[0], macs[1]
    pkts = [Ether(src=HOST, dst=lan) / IP(src="10.100.0.10", dst="203.0.113.%d" % (i % 200 + 1)) /
            UDP(sport=i, dport=9) / Raw(bytes(i % 300)) for i in range(500)]
    wrpcap(str(tmp_path / "lan-in.pcap"), pkts)
    wrpcap(str(tmp_path / "wan-in.pcap"), [], linktype=1)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    stats = tmp_path / "stats.json"
    args = [str(BIN)] + eal_args(f"sig-{tmp_path.name}") + [
        "--vdev", f"net_pcap0,rx_pcap={tmp_path / 'wan-in.pcap'},tx_pcap={tmp_path / 'wan-out.pcap'}",
        "--vdev", f"net_pcap1,rx_pcap={tmp_path / 'lan-in.pcap'},tx_pcap={tmp_path / 'lan-out.pcap'}",
        "--", "-f", str(cfg), "--stats-json", str(stats)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait until the output file has grown and stopped growing (the
        # replay is done; net_pcap flushes the rest when the port closes)
        out_pcap, last, deadline = tmp_path / "wan-out.pcap", -1, time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            size = out_pcap.stat().st_size if out_pcap.exists() else 0
            if size > 24 and size == last:
                break
            last = size
        assert proc.poll() is None, "exited without --idle-exit:\n" + proc.stderr.read()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_no_sanitizer_report(err)
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{err}"
    s = json.loads(stats.read_text())
    assert s["mbufs"]["in_use_at_exit"] == 0, s["mbufs"]
    sent = [p for p in rdpcap(str(tmp_path / "wan-out.pcap")) if not is_neighbor_frame(p)]
    assert [bytes(p) for p in sent] == [forwarded(p, wan, R2) for p in pkts]
    assert s["totals"]["rx_packets"] == s["totals"]["tx_packets"] == 500
    assert out.strip() or err.strip(), "the counters are printed at exit"
