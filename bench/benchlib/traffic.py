"""Traffic and configurations for the benchmark.

Everything here is plain bytes built with struct (Scapy is too slow for
100 000-packet pcaps); ESP is sealed with python3-cryptography, and
`selftest()` checks the result against Scapy's SecurityAssociation, an
implementation that is not ours.

The network (one gateway, one worker core):

    pcap port (net_pcap, infinite_rx) ──> ipsecgw ──> sink (net_null, no-rx)

  lan0  10.100.0.1/24, fd00:100::1/64   host 10.100.0.10, fd00:100::10
  wan0  192.168.0.1/24, 2001:db8::1/64  router 192.168.0.254, 2001:db8::fe
  tunnel k (ipsec<k>): local 192.168.0.1 / 2001:db8::1, remote
        198.18.0.0 + 1 + k / 2001:db8:ffff::1 + k (behind the router, the
        default route), far-side prefix 16.0.0.0 + 256 k /24 or
        fd00:200:<k>::/64 routed into it.

Outbound: the pcap port is lan0 and carries clear packets from the host
to the far sides; ESP leaves by wan0 (the sink).  Inbound: the pcap port
is wan0 and carries ESP from the remotes; the clear packets leave by lan0.
Plain forwarding: the outbound traffic with no tunnel (default route).

A packet "size" is the Ethernet frame of the clear packet, without FCS:
outbound's input and inbound's output.  IMIX is 7:4:1 of 64, 570 and 1420.
"""
import hashlib
import ipaddress
import os
import socket
import struct

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

HOST_MAC = "02:00:00:00:01:10"
ROUTER_MAC = "02:00:00:00:00:fe"
LAN_HOST = {4: "10.100.0.10", 6: "fd00:100::10"}
LOCAL = {4: "192.168.0.1", 6: "2001:db8::1"}
ROUTER = {4: "192.168.0.254", 6: "2001:db8::fe"}
SPI_OUT, SPI_IN = 0x1000000, 0x2000000

IMIX = (64, 64, 570, 64, 570, 64, 1420, 64, 570, 64, 64, 570)   # 7:4:1, interleaved
IMIX_AVG = sum(IMIX) / len(IMIX)

# ours -> (kind, key bytes incl. salt, ...)
ALGS = {
    "aes-gcm-128": {"aead": True, "key": 16 + 4},
    "aes-gcm-256": {"aead": True, "key": 32 + 4},
    "chacha20-poly1305": {"aead": True, "key": 32 + 4},
    "aes-cbc-128+hmac-sha256-128": {"aead": False, "enc": "aes-cbc-128", "enc_key": 16,
                                    "auth": "hmac-sha256-128", "auth_key": 32},
}
ALG_ORDER = list(ALGS)


def sizes_of(size):
    """The frame sizes a size label stands for, in pcap order."""
    return IMIX if size == "imix" else (int(size),)


def avg_size(size):
    return IMIX_AVG if size == "imix" else float(size)


def esp_block(alg):
    return 4 if ALGS[alg]["aead"] else 16


def esp_plain_len(alg, frame):
    """Bytes the cipher works on for one clear frame: inner IP packet,
    padding, pad length and next header."""
    inner = frame - 14
    b = esp_block(alg)
    return (inner + 2 + b - 1) // b * b


# --- addresses ------------------------------------------------------------------

def remote(fam, k):
    if fam == 4:
        return str(ipaddress.IPv4Address("198.18.0.0") + 1 + k)
    return str(ipaddress.IPv6Address("2001:db8:ffff::") + 1 + k)


def far_prefix(fam, k):
    if fam == 4:
        return f"{ipaddress.IPv4Address('16.0.0.0') + 256 * k}/24"
    return f"fd00:200:{k >> 16:x}:{k & 0xffff:x}::/64"


def far_host(fam, k):
    if fam == 4:
        return str(ipaddress.IPv4Address("16.0.0.0") + 256 * k + 5)
    return f"fd00:200:{k >> 16:x}:{k & 0xffff:x}::5"


def keys(alg, k, direction):
    """Deterministic keys per tunnel and direction: {yaml field: bytes}."""
    seed = hashlib.sha256(f"{alg}/{direction}/{k}".encode()).digest()
    seed += hashlib.sha256(seed).digest() + hashlib.sha256(seed + b"2").digest()
    a = ALGS[alg]
    if a["aead"]:
        return {"key": seed[:a["key"]]}
    return {"enc-key": seed[:a["enc_key"]], "auth-key": seed[32:32 + a["auth_key"]]}


def alg_yaml(alg, k, direction):
    a = ALGS[alg]
    ks = {n: "0x" + v.hex() for n, v in keys(alg, k, direction).items()}
    if a["aead"]:
        return f"aead: {alg}, key: {ks['key']}"
    return (f"enc: {a['enc']}, enc-key: {ks['enc-key']}, "
            f"auth: {a['auth']}, auth-key: {ks['auth-key']}")


# --- configurations ---------------------------------------------------------------

def _q(a):
    return f'"{a}"'


def base_config(lan_port, wan_port):
    return f"""ports:
  lan0: {{ port: {lan_port}, address: [10.100.0.1/24, "fd00:100::1/64"] }}
  wan0: {{ port: {wan_port}, address: [192.168.0.1/24, "2001:db8::1/64"] }}
neighbors:
  - {{ address: {ROUTER[4]}, lladdr: "{ROUTER_MAC}", dev: wan0 }}
  - {{ address: "{ROUTER[6]}", lladdr: "{ROUTER_MAC}", dev: wan0 }}
  - {{ address: {LAN_HOST[4]}, lladdr: "{HOST_MAC}", dev: lan0 }}
  - {{ address: "{LAN_HOST[6]}", lladdr: "{HOST_MAC}", dev: lan0 }}
"""


DEFAULT_ROUTES = (f"  - {{ prefix: 0.0.0.0/0, via: {ROUTER[4]}, dev: wan0 }}\n"
                  f"  - {{ prefix: \"::/0\", via: \"{ROUTER[6]}\", dev: wan0 }}\n")


def gateway_config(direction, fam, alg=None, tunnels=1):
    """The gateway's YAML: `direction` out / in / fwd decides which port
    is the pcap (port 0) and which the sink (port 1).  alg None: no
    tunnel (plain forwarding)."""
    lan, wan = (1, 0) if direction == "in" else (0, 1)
    out = [base_config(lan, wan)]
    if alg is None:
        out.append("routes:\n" + DEFAULT_ROUTES)
        return "".join(out)
    out.append("interfaces:\n")
    for k in range(tunnels):
        out.append(f"  ipsec{k}: {{ tunnel: {{ local: {_q(LOCAL[fam])}, "
                   f"remote: {_q(remote(fam, k))} }} }}\n")
    out.append("sas:\n")
    for k in range(tunnels):
        r = _q(remote(fam, k))
        out.append(f"  - {{ spi: {SPI_OUT + k:#x}, src: {_q(LOCAL[fam])}, dst: {r}, "
                   f"interface: ipsec{k}, {alg_yaml(alg, k, 'out')} }}\n")
        out.append(f"  - {{ spi: {SPI_IN + k:#x}, src: {r}, dst: {_q(LOCAL[fam])}, "
                   f"interface: ipsec{k}, {alg_yaml(alg, k, 'in')}, replay-window: 0 }}\n")
    out.append("routes:\n")
    for k in range(tunnels):
        out.append(f"  - {{ prefix: {_q(far_prefix(fam, k))}, dev: ipsec{k} }}\n")
    out.append(DEFAULT_ROUTES)
    return "".join(out)


def routes_config(n, nexthops=4):
    """Plain forwarding with `n` IPv4 /24 routes (16.0.0.0/24, 16.0.1.0/24,
    ...) over `nexthops` routers on wan0, as a full table would have."""
    out = [base_config(0, 1)]
    for h in range(1, nexthops):
        out.append(f"  - {{ address: 192.168.0.{254 - h}, lladdr: \"02:00:00:00:00:{0xfe - h:02x}\", "
                   "dev: wan0 }\n")
    out.append("routes:\n" if n else "routes: []\n")
    base = int(ipaddress.IPv4Address("16.0.0.0"))
    for i in range(n):
        a = base + (i << 8)
        out.append(f"  - {{ prefix: {a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.0/24, "
                   f"via: 192.168.0.{254 - i % nexthops}, dev: wan0 }}\n")
    return "".join(out)


# --- packets ----------------------------------------------------------------------

def _mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _addr(fam, a):
    return socket.inet_pton(socket.AF_INET if fam == 4 else socket.AF_INET6, a)


def ip_header(fam, src, dst, proto, payload_len, ident=0):
    s, d = _addr(fam, src), _addr(fam, dst)
    if fam == 4:
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident & 0xffff, 0,
                        64, proto, 0, s, d)
        return h[:10] + struct.pack("!H", _csum(h)) + h[12:]
    return struct.pack("!IHBB16s16s", 0x60000000, payload_len, proto, 64, s, d)


def inner_packet(fam, src, dst, ip_len, n):
    """An IP packet of ip_len bytes: UDP with a payload that varies with n."""
    hl = 20 if fam == 4 else 40
    plen = ip_len - hl - 8
    assert plen >= 0, f"{ip_len} B is too small for IPv{fam} + UDP"
    body = bytes((n + i) & 0xff for i in range(plen))
    sport, dport = 1024 + n % 60000, 5001
    udp = struct.pack("!HHHH", sport, dport, 8 + plen, 0) + body
    if fam == 6:   # the checksum is mandatory for UDP over IPv6
        pseudo = _addr(6, src) + _addr(6, dst) + struct.pack("!IxxxB", len(udp), 17)
        c = _csum(pseudo + udp) or 0xffff
        udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return ip_header(fam, src, dst, 17, len(udp), ident=n) + udp


def ether(dst, src, fam):
    return _mac(dst) + _mac(src) + struct.pack("!H", 0x0800 if fam == 4 else 0x86dd)


def esp_seal(alg, k, spi, seq, inner, nh):
    """ESP (RFC 4303, tunnel mode) of `inner` with the inbound keys of
    tunnel k: SPI, sequence number, IV, ciphertext, ICV."""
    a = ALGS[alg]
    ks = keys(alg, k, "in")
    b = esp_block(alg)
    padlen = (-(len(inner) + 2)) % b
    plain = inner + bytes(range(1, padlen + 1)) + bytes((padlen, nh))
    head = struct.pack("!II", spi, seq)
    if a["aead"]:
        key, salt = ks["key"][:-4], ks["key"][-4:]
        iv = struct.pack("!Q", seq)
        aead = ChaCha20Poly1305(key) if alg == "chacha20-poly1305" else AESGCM(key)
        return head + iv + aead.encrypt(salt + iv, plain, head)
    iv = hashlib.sha256(struct.pack("!II", spi, seq)).digest()[:16]
    enc = Cipher(algorithms.AES(ks["enc-key"]), modes.CBC(iv)).encryptor()
    body = head + iv + enc.update(plain) + enc.finalize()
    mac = hmac.HMAC(ks["auth-key"], hashes.SHA256())
    mac.update(body)
    return body + mac.finalize()[:16]


def frames(direction, fam, size, lan_mac, wan_mac, alg=None, tunnels=1, count=1200, flow0=0,
           queue=0, queues=1):
    """The pcap's frames for one case: `count` packets (at least one per
    tunnel, a whole number of IMIX cycles), going round the tunnels.
    With `queues` > 1 this is rx queue `queue`'s share, as RSS would
    spread tunnels: the tunnels k with k % queues == queue.  Inbound
    sequence numbers count up per SA from 1 (the pcap loops, so the SAs
    run with anti-replay off)."""
    sz = sizes_of(size)
    ks = [k for k in range(tunnels) if k % queues == queue] or [0]
    count = max(count, len(ks))
    step = len(sz) * len(ks) // _gcd(len(sz), len(ks))
    count = (count + step - 1) // step * step
    out = []
    seq = {}
    for j in range(count):
        k = ks[j % len(ks)]
        f = sz[j % len(sz)]
        n = flow0 + j
        if direction in ("out", "fwd"):
            dst = far_host(fam, k)
            out.append(ether(lan_mac, HOST_MAC, fam) + inner_packet(fam, LAN_HOST[fam], dst, f - 14, n))
            continue
        inner = inner_packet(fam, far_host(fam, k), LAN_HOST[fam], f - 14, n)
        s = seq[k] = seq.get(k, 0) + 1
        esp = esp_seal(alg, k, SPI_IN + k, s, inner, 4 if fam == 4 else 41)
        outer = ip_header(fam, remote(fam, k), LOCAL[fam], 50, len(esp), ident=n)
        out.append(ether(wan_mac, ROUTER_MAC, fam) + outer + esp)
    return out


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def write_pcap(path, pkts):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(pkts):
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(p), len(p)))
            f.write(p)
    os.replace(tmp, path)


# --- self-test against Scapy ---------------------------------------------------------

SCAPY_ALGS = {"aes-gcm-128": ("AES-GCM", None), "aes-gcm-256": ("AES-GCM", None),
              "chacha20-poly1305": ("CHACHA20-POLY1305", None),
              "aes-cbc-128+hmac-sha256-128": ("AES-CBC", "SHA2-256-128")}


def selftest():
    """Our ESP, opened by Scapy's SecurityAssociation, gives back the inner
    packet, for every algorithm and family; raises AssertionError if not."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.ipsec import ESP, SecurityAssociation
    from scapy.layers.l2 import Ether
    checked = 0
    for alg in ALGS:
        for fam in (4, 6):
            for size in (64, 570, 1420):
                fr = frames("in", fam, size, "02:70:63:61:70:00", "02:70:63:61:70:00",
                            alg=alg, tunnels=3, count=6)
                for j, raw in enumerate(fr):
                    k = j % 3
                    ks = keys(alg, k, "in")
                    crypt, auth = SCAPY_ALGS[alg]
                    outer = Ether(raw)[IP if fam == 4 else IPv6]
                    sa = SecurityAssociation(
                        ESP, spi=SPI_IN + k, crypt_algo=crypt,
                        crypt_key=ks.get("key", ks.get("enc-key")),
                        auth_algo=auth, auth_key=ks.get("auth-key"),
                        tunnel_header=(IP if fam == 4 else IPv6)(src=remote(fam, k), dst=LOCAL[fam]))
                    inner = bytes(sa.decrypt(outer))
                    want = inner_packet(fam, far_host(fam, k), LAN_HOST[fam], size - 14, j)
                    assert inner == want, f"{alg} IPv{fam} {size} B packet {j}: Scapy disagrees"
                    assert len(raw) >= size
                    checked += 1
    return checked
