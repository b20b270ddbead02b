"""ESN with a window under 64: librte_ipsec infers the high bits with a
window of at least 64, and our window must infer them the same way, or an
old packet looks 2^32 ahead and clears the window (review finding)."""
from scapy.layers.inet import UDP

import test_esp as T


def test_esn_small_window_rejects_old_and_replayed(gateway, macs):
    wan = macs[0]
    t = T.Tunnel(esn=True, replay_window=32)
    peer = t.peer_in()
    seqs = list(range(1, 101)) + [60, 99, 69, 100]   # 60: T-40, outside W=32
    frames = [peer.frame(T.inbound(4, size=8, sport=1000 + i), s, wan) for i, s in enumerate(seqs)]
    r = T.run_esp(gateway, t, wan=frames)
    got = sorted(f[UDP].sport - 1000 for f in r.out["lan0"])
    assert got == list(range(100)), "only the first 100 pass"
    assert r.stats["drops"]["replay"] == 4
    s = [x for x in r.stats["sas"] if x["direction"] == "in"][0]
    assert s["replay"] == 4 and s["packets"] == 100
