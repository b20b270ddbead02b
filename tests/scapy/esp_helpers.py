"""Helpers for the ESP tests: gateway configurations with one ipsec
interface, and Scapy as the independent IPsec peer.

            wan0 = net_pcap0                            lan0 = net_pcap1
  peer      192.168.0.1/24, 2001:db8::1/64   [gw]   10.100.0.1/24, fd00:100::1/64   host
  .2 (R2)   tunnel ipsec0: local .1 <-> remote .2          10.100.0.10, fd00:100::10
  far side: 10.200.0.0/24, fd00:200::/64 (routed into ipsec0)

The gateway's outbound SA is SPI 0x1000 (tunnel local -> remote), its
inbound SA SPI 0x2000 (remote -> local).  The peer is Scapy's
`SecurityAssociation` (scapy.layers.ipsec) with the same algorithms and keys:
it decrypts what the gateway sends and seals what the gateway receives.

Algorithm names, ours -> Scapy 2.5 (checked against
/usr/lib/python3/dist-packages/scapy/layers/ipsec.py):
  aes-gcm-*  AES-GCM      chacha20-poly1305  CHACHA20-POLY1305
  aes-cbc-*  AES-CBC      aes-ctr-*  AES-CTR     3des-cbc  3DES     null  NULL
  hmac-sha1-96  HMAC-SHA1-96      hmac-sha256-128  SHA2-256-128
  hmac-sha384-192  SHA2-384-192   hmac-sha512-256  SHA2-512-256
Scapy 2.5 has neither AES-GMAC (RFC 4543) nor AES-XCBC-MAC-96 (RFC 3566);
this file adds both to Scapy's algorithm tables (AES-GMAC as a Scapy
CryptAlgo, AES-XCBC as an AuthAlgo), built on python3-cryptography, with
the RFCs' layouts and RFC 3566's test vectors (test_esp_helpers.py).

Keys: ours carry the salt / nonce at the end of the key (RFC 4106, 4543,
7634, 3686), and so does Scapy's `crypt_key` (it splits off `salt_size`
bytes at the end), so a config key is handed to Scapy as it is.

Known Scapy 2.5.0 ESP bugs, and what the helpers do about them:
  1. With ESN and an HMAC (or XCBC) integrity algorithm Scapy leaves the
     high 32 sequence bits out of the ICV (RFC 4303 2.2.1 appends them to
     the ICV input): `seal` then has Scapy encrypt without integrity and
     appends the ICV itself; `open` checks the ICV itself and has Scapy
     decrypt with verify=False.
  2. NAT-T over IPv4: Scapy builds the outer IPv4 header before the ESP
     payload is attached, so the UDP length is 8: `seal` rebuilds the UDP
     header with the real length (checksum stays 0, RFC 3948).
  3. A GCM ICV shorter than 16 bytes (crypt_icv_size) is ignored: Scapy
     always uses 16.  The contract has only the 16-byte GCM ICV, so this
     needs nothing; do not rely on crypt_icv_size.
  4. `seq_num=0` / `esn=0` (and esn_en=False) passed to encrypt() or
     decrypt() are ignored (`seq_num or self.seq_num`): the helpers set the
     SA's seq_num / esn / esn_en attributes instead of passing them.
"""
import socket
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.compat import raw
from scapy.layers import ipsec as sipsec
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import (ESP, AuthAlgo, CryptAlgo, IPSecIntegrityError,
                                SecurityAssociation, _ESPPlain, split_for_transport)
from scapy.layers.l2 import Ether

from net import HOST, R2, forwarded

# --- addresses --------------------------------------------------------------

LOCAL = {4: "192.168.0.1", 6: "2001:db8::1"}       # tunnel local (wan0)
REMOTE = {4: "192.168.0.2", 6: "2001:db8::2"}      # tunnel remote (neighbor R2)
STRANGER = {4: "192.168.0.3", 6: "2001:db8::3"}    # on wan0, not the remote
LAN_HOST = {4: "10.100.0.10", 6: "fd00:100::10"}   # behind the gateway (lan0)
FAR_HOST = {4: "10.200.0.5", 6: "fd00:200::5"}     # behind the peer (ipsec0)
SPI_OUT, SPI_IN = 0x1000, 0x2000

# --- algorithms -------------------------------------------------------------

# ours -> (key bytes incl. salt/nonce, Scapy name)
AEAD_ALGS = {
    "aes-gcm-128": (16 + 4, "AES-GCM"),
    "aes-gcm-192": (24 + 4, "AES-GCM"),
    "aes-gcm-256": (32 + 4, "AES-GCM"),
    "chacha20-poly1305": (32 + 4, "CHACHA20-POLY1305"),
    "aes-gmac-128": (16 + 4, "AES-GMAC"),     # added below
    "aes-gmac-256": (32 + 4, "AES-GMAC"),
}
ENC_ALGS = {
    "aes-cbc-128": (16, "AES-CBC"),
    "aes-cbc-192": (24, "AES-CBC"),
    "aes-cbc-256": (32, "AES-CBC"),
    "aes-ctr-128": (16 + 4, "AES-CTR"),
    "aes-ctr-192": (24 + 4, "AES-CTR"),
    "aes-ctr-256": (32 + 4, "AES-CTR"),
    "3des-cbc": (24, "3DES"),
    "null": (0, "NULL"),
}
AUTH_ALGS = {
    "hmac-sha1-96": (20, "HMAC-SHA1-96"),
    "hmac-sha256-128": (32, "SHA2-256-128"),
    "hmac-sha384-192": (48, "SHA2-384-192"),
    "hmac-sha512-256": (64, "SHA2-512-256"),
    "aes-xcbc-96": (16, "AES-XCBC-96"),        # added below
}
# IV bytes on the wire (RFC 3602, 2451, 3686, 4106, 4543, 7634; NULL: none)
IV_SIZE = {"AES-CBC": 16, "3DES": 8, "AES-CTR": 8, "AES-GCM": 8, "AES-GMAC": 8,
           "CHACHA20-POLY1305": 8, "NULL": 0}
BLOCK = {"AES-CBC": 16, "3DES": 8}             # ciphertext must be a multiple


class _GmacAlgo(CryptAlgo):
    """ENCR_NULL_AUTH_AES_GMAC (RFC 4543): nothing is encrypted; the ICV is
    GHASH-based over AAD = SPI | [seq-hi] | seq | IV | payload | padding |
    pad length | next header, with nonce = salt | IV (RFC 4543 3.1-3.3)."""

    def __init__(self):
        super().__init__("AES-GMAC", cipher=AESGCM, mode=None, key_size=(16, 24, 32),
                         block_size=1, iv_size=8, icv_size=16, salt_size=4)
        self.is_aead = True          # one transform: no separate auth algo

    def _aad(self, esp, iv, data, esn_en, esn):
        head = struct.pack("!LLL", esp.spi, esn, esp.seq) if esn_en else \
            struct.pack("!LL", esp.spi, esp.seq)
        return head + iv + data

    def encrypt(self, sa, esp, key, icv_size=None, esn_en=False, esn=0):
        data = esp.data_for_encryption()
        tag = AESGCM(key).encrypt(sa.crypt_salt + esp.iv, b"",
                                  self._aad(esp, esp.iv, data, esn_en, esn))
        return ESP(spi=esp.spi, seq=esp.seq, data=esp.iv + data + tag)

    def decrypt(self, sa, esp, key, icv_size=None, esn_en=False, esn=0):
        iv, data, icv = esp.data[:8], esp.data[8:-16], esp.data[-16:]
        try:
            AESGCM(key).decrypt(sa.crypt_salt + iv, icv, self._aad(esp, iv, data, esn_en, esn))
        except InvalidTag as err:
            raise IPSecIntegrityError(err)
        padlen, nh = data[-2], data[-1]
        return _ESPPlain(spi=esp.spi, seq=esp.seq, iv=iv, data=data[:len(data) - padlen - 2],
                         padding=data[len(data) - padlen - 2:-2], padlen=padlen, nh=nh, icv=icv)


def xcbc_mac(key, msg):
    """AES-XCBC-MAC (RFC 3566 section 4), full 16 bytes."""
    def ecb(k, block):
        e = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
        return e.update(block) + e.finalize()
    k1, k2, k3 = (ecb(key, bytes([i]) * 16) for i in (1, 2, 3))
    xor = lambda a, b: bytes(x ^ y for x, y in zip(a, b))
    blocks = [msg[i:i + 16] for i in range(0, len(msg), 16)] or [b""]
    e = bytes(16)
    for b in blocks[:-1]:
        e = ecb(k1, xor(e, b))
    last = blocks[-1]
    if len(last) == 16:
        last = xor(last, k2)
    else:
        last = xor(last + b"\x80" + bytes(15 - len(last)), k3)
    return ecb(k1, xor(e, last))


class _XcbcMac:
    """The update()/finalize() interface Scapy's AuthAlgo expects."""

    def __init__(self, key):
        self.key, self.msg = key, b""

    def update(self, data):
        self.msg += bytes(data)

    def finalize(self):
        return xcbc_mac(self.key, self.msg)


class _XcbcAlgo(AuthAlgo):
    def __init__(self):
        super().__init__("AES-XCBC-96", mac=_XcbcMac, digestmod=None, icv_size=12,
                         key_size=(16,))

    def new_mac(self, key):
        return _XcbcMac(key)


sipsec.CRYPT_ALGOS.setdefault("AES-GMAC", _GmacAlgo())
sipsec.AUTH_ALGOS.setdefault("AES-XCBC-96", _XcbcAlgo())


@dataclass(frozen=True)
class Suite:
    """An SA's algorithms: aead, or enc + auth (our names)."""
    aead: str = None
    enc: str = None
    auth: str = None

    @property
    def id(self):
        return self.aead or f"{self.enc}+{self.auth}"

    @property
    def scapy_crypt(self):
        return AEAD_ALGS[self.aead][1] if self.aead else ENC_ALGS[self.enc][1]

    @property
    def scapy_auth(self):
        return None if self.aead else AUTH_ALGS[self.auth][1]

    @property
    def icv_size(self):
        return 16 if self.aead else sipsec.AUTH_ALGOS[self.scapy_auth].icv_size

    def keys(self, seed):
        """Deterministic keys, different per seed: {field: bytes}."""
        if self.aead:
            return {"key": key_bytes(AEAD_ALGS[self.aead][0], seed)}
        k = {"auth-key": key_bytes(AUTH_ALGS[self.auth][0], seed + 100)}
        if ENC_ALGS[self.enc][0]:
            k["enc-key"] = key_bytes(ENC_ALGS[self.enc][0], seed)
        return k

    def yaml(self, seed):
        keys = {n: "0x" + v.hex() for n, v in self.keys(seed).items()}
        if self.aead:
            return f"aead: {self.aead}, key: {keys['key']}"
        enc = f'enc: "{self.enc}"' if self.enc == "null" else f"enc: {self.enc}"
        s = enc + (f", enc-key: {keys['enc-key']}" if "enc-key" in keys else "")
        return s + f", auth: {self.auth}, auth-key: {keys['auth-key']}"


def key_bytes(n, seed):
    return bytes((seed * 37 + i * 11 + 5) & 0xff for i in range(n))


GCM128 = Suite(aead="aes-gcm-128")
CBC_SHA256 = Suite(enc="aes-cbc-128", auth="hmac-sha256-128")

# Every algorithm of the contract at least once: all AEADs, every cipher
# with some integrity algorithm, every integrity algorithm with some cipher.
SUITES = [Suite(aead=a) for a in AEAD_ALGS] + [
    Suite(enc="aes-cbc-128", auth="hmac-sha1-96"),
    Suite(enc="aes-cbc-128", auth="hmac-sha256-128"),
    Suite(enc="aes-cbc-192", auth="hmac-sha384-192"),
    Suite(enc="aes-cbc-256", auth="hmac-sha512-256"),
    Suite(enc="aes-cbc-128", auth="aes-xcbc-96"),
    Suite(enc="aes-ctr-128", auth="hmac-sha256-128"),
    Suite(enc="aes-ctr-192", auth="aes-xcbc-96"),
    Suite(enc="aes-ctr-256", auth="hmac-sha512-256"),
    Suite(enc="3des-cbc", auth="hmac-sha1-96"),
    Suite(enc="null", auth="hmac-sha256-128"),
]


# --- the peer ---------------------------------------------------------------

@dataclass
class SaSpec:
    spi: int
    src: str
    dst: str
    suite: Suite
    seed: int
    esn: bool = False
    replay_window: int = None
    seq: int = None                 # outbound: the last sequence number sent

    def yaml(self, iface="ipsec0"):
        s = f"  - {{ spi: {self.spi:#x}, src: \"{self.src}\", dst: \"{self.dst}\", " \
            f"interface: {iface}, {self.suite.yaml(self.seed)}"
        if self.esn:
            s += ", esn: true"
        if self.replay_window is not None:
            s += f", replay-window: {self.replay_window}"
        if self.seq is not None:
            s += f", seq: {self.seq:#x}"
        return s + " }\n"


def outer_ip(src, dst, **kw):
    return (IP if ":" not in src else IPv6)(src=src, dst=dst, **kw)


class Peer:
    """Scapy's side of one SA: seals packets for the gateway (its inbound
    SA) or opens what the gateway sent (its outbound SA)."""

    def __init__(self, spec, nat_t=False, sport=4500, outer_src=None, keys=None):
        """keys: {"key" | "enc-key" | "auth-key": bytes} when they do not
        come from the spec's seed (e.g. from an example file)."""
        self.spec = spec
        keys = keys or spec.suite.keys(spec.seed)
        src = outer_src or spec.src
        self.tunnel = outer_ip(src, spec.dst, ttl=64) if ":" not in src else \
            outer_ip(src, spec.dst, hlim=64)
        self.nat_t = nat_t
        self.sport = sport
        self.sa = SecurityAssociation(
            ESP, spi=spec.spi, crypt_algo=spec.suite.scapy_crypt,
            crypt_key=keys.get("key", keys.get("enc-key")) or None,
            auth_algo=spec.suite.scapy_auth, auth_key=keys.get("auth-key"),
            tunnel_header=self.tunnel.copy(),
            nat_t_header=UDP(sport=sport, dport=4500) if nat_t else None)
        # bug 4: set, never pass, the ESN state
        self.sa.esn_en = spec.esn
        self._hmac_esn = spec.esn and spec.suite.scapy_auth is not None

    # Sealing ---------------------------------------------------------------

    def seal(self, inner, seq, *, iv=None, padding=None, padlen=None, nh=None,
             bad_padding=False, tunnel=None):
        """ESP tunnel mode of `inner` (an IP/IPv6 packet) with the 64-bit
        sequence number `seq` (the low 32 bits go on the wire); returns the
        outer IP/IPv6 packet.  padding / padlen / nh override the trailer
        and bad_padding zeroes the (non-empty) padding, for malformed-ESP
        tests; tunnel overrides the outer header."""
        hi, lo = seq >> 32, seq & 0xffffffff
        assert hi == 0 or self.spec.esn, "seq beyond 2^32 needs ESN"
        sa = self.sa
        plain = padding is None and padlen is None and nh is None and tunnel is None \
            and not bad_padding
        if plain and not self._hmac_esn:
            sa.seq_num, sa.esn = lo, hi                  # bug 4
            pkt = sa.encrypt(inner.copy(), iv=iv)
            return self._fix_natt(pkt)                   # bug 2
        # By hand from Scapy's own parts (the steps of _encrypt_esp).
        t = (tunnel or self.tunnel).copy()
        if t.version == 4:
            del t.proto, t.len, t.chksum
        else:
            del t.nh, t.plen
        pkt = t.__class__(raw(t / inner.copy()))
        ip_header, nexthdr, payload = split_for_transport(pkt, socket.IPPROTO_ESP)
        esp = _ESPPlain(spi=sa.spi, seq=lo, iv=iv or sa.crypt_algo.generate_iv())
        esp.data = payload
        esp.nh = nexthdr if nh is None else nh
        esp = sa.crypt_algo.pad(esp)
        if bad_padding:
            assert esp.padlen > 0, "no padding to spoil at this size"
            esp.padding = bytes(esp.padlen)
        if padding is not None:
            esp.padding = padding
            esp.padlen = len(padding)
        if padlen is not None:
            esp.padlen = padlen
        esp = sa.crypt_algo.encrypt(sa, esp, sa.crypt_key, sa.crypt_icv_size,
                                    esn_en=self.spec.esn, esn=hi)
        if sa.auth_algo.mac:
            mac = sa.auth_algo.new_mac(sa.auth_key)
            mac.update(raw(esp) + (struct.pack("!L", hi) if self.spec.esn else b""))  # bug 1
            esp.data += mac.finalize()[:sa.auth_algo.icv_size]
        ip_header.remove_payload()
        if ip_header.version == 4:
            del ip_header.proto, ip_header.len, ip_header.chksum
        else:
            del ip_header.nh, ip_header.plen
        if self.nat_t:
            ip_header = ip_header / UDP(sport=self.sport, dport=4500, chksum=0)
        out = ip_header / esp
        return out.__class__(raw(out))

    def _fix_natt(self, pkt):
        if not self.nat_t:
            return pkt
        b = bytearray(raw(pkt))
        hl = (b[0] & 0xf) * 4 if pkt.version == 4 else 40
        struct.pack_into("!H", b, hl + 4, len(b) - hl)
        return pkt.__class__(bytes(b))

    def frame(self, inner, seq, wan_mac, **kw):
        """The Ethernet frame the remote (R2) sends to the gateway's wan0."""
        return Ether(src=R2, dst=wan_mac) / self.seal(inner, seq, **kw)

    # Opening ---------------------------------------------------------------

    def open(self, frame, seq_hi=0):
        """Check the ICV of the ESP in `frame` (an Ether frame from the
        gateway) and decrypt it; returns (esp header, inner bytes).  Raises
        IPSecIntegrityError when the ICV is wrong."""
        b = raw(frame)[14:]
        outer = (IP if b[0] >> 4 == 4 else IPv6)(b)
        esp = outer[ESP]
        hdr = ESP(raw(esp))
        sa = self.sa
        sa.esn = seq_hi                                   # bug 4
        if self._hmac_esn:                                # bug 1
            n = sa.auth_algo.icv_size
            clone = ESP(spi=esp.spi, seq=esp.seq, data=esp.data[:-n])
            mac = sa.auth_algo.new_mac(sa.auth_key)
            mac.update(raw(clone) + struct.pack("!L", seq_hi))
            if mac.finalize()[:n] != esp.data[-n:]:
                raise IPSecIntegrityError("ESN ICV mismatch")
            inner = sa.decrypt(outer, verify=False)
        else:
            inner = sa.decrypt(outer)
        return hdr, raw(inner)


# --- the gateway's configuration --------------------------------------------

@dataclass
class Tunnel:
    """One gateway with wan0, lan0 and ipsec0 (outer IPv4 or IPv6), and the
    Scapy peer at the tunnel's remote end."""
    suite: Suite = GCM128
    outer: int = 4
    nat_t: bool = None
    ecn: bool = None
    ipv6: bool = None
    df: str = None
    esn: bool = False
    replay_window: int = None
    out_seq: int = None
    with_out_sa: bool = True
    with_in_sa: bool = True
    extra_routes: list = field(default_factory=list)

    def __post_init__(self):
        self.local, self.remote = LOCAL[self.outer], REMOTE[self.outer]
        self.out_sa = SaSpec(SPI_OUT, self.local, self.remote, self.suite, seed=1,
                             esn=self.esn, replay_window=self.replay_window, seq=self.out_seq)
        self.in_sa = SaSpec(SPI_IN, self.remote, self.local, self.suite, seed=2,
                            esn=self.esn, replay_window=self.replay_window)

    def config(self):
        flags = ""
        for name, v in (("nat-t", self.nat_t), ("ecn", self.ecn), ("ipv6", self.ipv6)):
            if v is not None:
                flags += f"    {name}: {'true' if v else 'false'}\n"
        if self.df is not None:
            flags += f"    df: {self.df}\n"
        sas = (self.out_sa.yaml() if self.with_out_sa else "") + \
            (self.in_sa.yaml() if self.with_in_sa else "")
        routes = ["{ prefix: 10.200.0.0/24, dev: ipsec0 }",
                  '{ prefix: "fd00:200::/64", dev: ipsec0 }'] + self.extra_routes
        return f"""
ports:
  wan0: {{ port: 0, address: [192.168.0.1/24, "2001:db8::1/64"] }}
  lan0: {{ port: 1, address: [10.100.0.1/24, "fd00:100::1/64"] }}
neighbors:
  - {{ address: 192.168.0.2, lladdr: "{R2}", dev: wan0 }}
  - {{ address: "2001:db8::2", lladdr: "{R2}", dev: wan0 }}
  - {{ address: 10.100.0.10, lladdr: "{HOST}", dev: lan0 }}
  - {{ address: "fd00:100::10", lladdr: "{HOST}", dev: lan0 }}
interfaces:
  ipsec0:
    tunnel: {{ local: "{self.local}", remote: "{self.remote}" }}
{flags}sas:
{sas or "  []"}
routes:
""" + "".join(f"  - {r}\n" for r in routes)

    def peer_in(self, **kw):
        """Scapy sealing with the gateway's inbound SA."""
        return Peer(self.in_sa, nat_t=bool(self.nat_t), **kw)

    def peer_out(self):
        """Scapy opening with the gateway's outbound SA."""
        return Peer(self.out_sa, nat_t=bool(self.nat_t))


# --- packets ----------------------------------------------------------------

def payload(size):
    return bytes((i * 7 + size) & 0xff for i in range(size))


def inner_packet(family, src, dst, size=40, tos=0, ttl=64, flags=0, sport=1234):
    """An inner UDP packet of `size` payload bytes.  For IPv6 `tos` is the
    traffic class and `ttl` the hop limit; `flags` (DF=2) is IPv4 only."""
    udp = UDP(sport=sport, dport=5678) / payload(size)
    if family == 4:
        p = IP(src=src, dst=dst, tos=tos, ttl=ttl, flags=flags, id=sport) / udp
    else:
        p = IPv6(src=src, dst=dst, tc=tos, hlim=ttl, fl=sport) / udp
    return p.__class__(raw(p))


def outbound(family, **kw):
    """A packet from the LAN host to the far side (routed into ipsec0)."""
    return inner_packet(family, LAN_HOST[family], FAR_HOST[family], **kw)


def inbound(family, **kw):
    """A packet from the far side to the LAN host (arrives in ESP)."""
    return inner_packet(family, FAR_HOST[family], LAN_HOST[family], **kw)


def from_lan(inner, lan_mac):
    return Ether(src=HOST, dst=lan_mac) / inner


def routed_inner(inner):
    """The inner packet as the gateway forwards it: TTL / hop limit - 1 and
    the IPv4 checksum recomputed (by Scapy)."""
    return forwarded(_eth() / inner, "00:00:00:00:00:00", "00:00:00:00:00:00")[14:]


def delivered(inner, lan_mac):
    """The frame the gateway sends the LAN host for a decapsulated inner."""
    return forwarded(_eth() / inner, lan_mac, HOST)


def _eth():
    return Ether(src=R2, dst="02:00:00:00:00:01")   # replaced by forwarded()


def family_of(b):
    return 4 if b[0] >> 4 == 4 else 6


def by_family(raws):
    """Bytes split per IP family (inner packets), order kept within each:
    a burst is classified by family, so the families may interleave
    differently, but every flow keeps its order."""
    return ([b for b in raws if family_of(b) == 4], [b for b in raws if family_of(b) == 6])


# --- counters ---------------------------------------------------------------

def assert_drops(r, expected):
    """stats["drops"] (the total over ports and interfaces) is exactly
    `expected` ({reason: count}); every other reason is 0."""
    drops = r.stats["drops"]
    for reason, n in expected.items():
        assert reason in drops, f"no drop reason {reason!r} in stats: {sorted(drops)}"
        assert drops[reason] == n, f"drops[{reason}] = {drops[reason]}, expected {n}; all: " \
            f"{ {k: v for k, v in drops.items() if v} }"
    others = {k: v for k, v in drops.items() if v and k not in expected}
    assert not others, f"unexpected drops {others}"


def iface_stats(r, name="ipsec0"):
    assert "interfaces" in r.stats, "no 'interfaces' in stats"
    return r.stats["interfaces"][name]


def sa_stats(r, spi, direction=None):
    found = [s for s in r.stats.get("sas", []) if s["spi"] == spi and
             (direction is None or s["direction"] == direction)]
    assert len(found) == 1, f"SA {spi:#x} in stats: {r.stats.get('sas')}"
    return found[0]


def check_v4_checksum(hdr):
    """True if the IPv4 header bytes `hdr` have a valid checksum."""
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff
