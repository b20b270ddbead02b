"""Self-checks of esp_helpers (no gateway): the algorithms added to Scapy
(AES-XCBC-MAC-96 against RFC 3566's test vectors, AES-GMAC), and the
workarounds for Scapy 2.5.0's ESP bugs, so that an ESP test failing is
the gateway's fault and not the peer's."""
import hashlib
import hmac
import struct

import pytest
from scapy.compat import raw
from scapy.layers.inet import UDP
from scapy.layers.ipsec import ESP, IPSecIntegrityError
from scapy.layers.l2 import Ether

from esp_helpers import (CBC_SHA256, SUITES, Peer, Suite, Tunnel, inbound, xcbc_mac)

XCBC_KEY = bytes(range(16))


@pytest.mark.parametrize("msg_len,mac", [
    (0, "75f0251d528ac01c4573dfd584d79f29"),
    (3, "5b376580ae2f19afe7219ceef172756f"),
    (16, "d2a246fa349b68a79998a4394ff7a263"),
    (32, "f54f0ec8d2b9f3d36807734bd5283fd4"),
    (34, "becbb3bccdb518a30677d5481fb6b4d8"),
])
def test_xcbc_rfc3566_vectors(msg_len, mac):
    assert xcbc_mac(XCBC_KEY, bytes(range(msg_len))).hex() == mac


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.id)
@pytest.mark.parametrize("esn", [False, True], ids=["seq32", "esn"])
def test_peer_round_trip(suite, esn):
    """seal -> open with the same SA gives the inner packet back, and a
    flipped ICV bit or (with ESN) the wrong high sequence bits are caught."""
    t = Tunnel(suite=suite, esn=esn)
    for fam in (4, 6):
        inner = inbound(fam, size=37)
        seq = (3 << 32) + 9 if esn else 9
        f = Ether() / t.peer_in().seal(inner, seq)
        hdr, got = Peer(t.in_sa).open(f, seq_hi=seq >> 32)
        assert got == raw(inner) and hdr.seq == 9 and hdr.spi == t.in_sa.spi
        bad = bytearray(raw(f))
        bad[-1] ^= 1
        with pytest.raises(IPSecIntegrityError):
            Peer(t.in_sa).open(Ether(bytes(bad)), seq_hi=seq >> 32)
        if esn:
            with pytest.raises(IPSecIntegrityError):
                Peer(t.in_sa).open(f, seq_hi=2)


def test_esn_hmac_icv_covers_high_bits():
    """Workaround for Scapy bug 1: the ICV is HMAC(SPI | seq | IV | ciphertext
    | seq-hi) (RFC 4303 2.2.1), checked here with hashlib's HMAC."""
    t = Tunnel(suite=CBC_SHA256, esn=True)
    esp = raw(t.peer_in().seal(inbound(4), (5 << 32) + 1)[ESP])
    key = CBC_SHA256.keys(t.in_sa.seed)["auth-key"]
    want = hmac.new(key, esp[:-16] + struct.pack("!L", 5), hashlib.sha256).digest()[:16]
    assert esp[-16:] == want


def test_natt_udp_length_fixed():
    """Workaround for Scapy bug 2: the UDP length covers the ESP payload."""
    t = Tunnel(suite=Suite(aead="aes-gcm-128"), nat_t=True)
    p = t.peer_in().seal(inbound(4, size=100), 1)
    assert p[UDP].sport == p[UDP].dport == 4500 and p[UDP].chksum == 0
    assert p[UDP].len == len(raw(p[UDP])) > 100


def test_sequence_zero_high_bits_zero():
    """Workaround for Scapy bug 4: seq 0 / esn 0 are not replaced by the
    SA's previous values."""
    t = Tunnel(suite=Suite(aead="aes-gcm-128"), esn=True)
    peer = t.peer_in()
    peer.seal(inbound(4), (7 << 32) + 7)
    p = peer.seal(inbound(4), 1 << 32)
    assert p[ESP].seq == 0
    Peer(t.in_sa).open(Ether() / p, seq_hi=1)
