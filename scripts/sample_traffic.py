#!/usr/bin/python3
"""Write the sample traffic the README's demo replays through ipsecgw.

usage: sample_traffic.py WAN_MAC LAN_MAC OUTDIR

Writes OUTDIR/wan0-in.pcap and OUTDIR/lan0-in.pcap for config/ipsecgw.yaml:
traffic from the LAN host to the peer site (which the gateway seals into
ESP), to the Internet over IPv4 and IPv6, replies coming back (the peer
site's as ESP sealed here by Scapy, the gateway's independent peer), and a
few packets the gateway must drop (each under its own reason).
"""
import sys

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPv6, Raw, wrpcap
from scapy.layers.ipsec import ESP, SecurityAssociation

# the peer gateway's outbound SA: the gateway's inbound one in config/ipsecgw.yaml
PEER_SA = SecurityAssociation(ESP, spi=0x2000, crypt_algo="AES-GCM",
                              crypt_key=bytes.fromhex("1112131415161718191a1b1c1d1e1f2021222324"),
                              tunnel_header=IP(src="192.168.0.2", dst="192.168.0.1"))

wan_mac, lan_mac, outdir = sys.argv[1:4]
host = "02:00:00:00:01:10"
router = "02:00:00:00:00:fe"

lan = []
for i in range(20):
    lan.append(Ether(src=host, dst=lan_mac) / IP(src="10.100.0.10", dst="10.200.0.5") /
               UDP(sport=40000 + i, dport=5000) / Raw(b"to the peer site %d" % i))
    lan.append(Ether(src=host, dst=lan_mac) / IP(src="10.100.0.10", dst="198.51.100.7") /
               TCP(sport=50000 + i, dport=443, flags="S"))
    lan.append(Ether(src=host, dst=lan_mac) / IPv6(src="fd00:100::10", dst="2001:db8:ffff::7") /
               UDP(sport=40000 + i, dport=123))
# dropped: ARP (not-ip), TTL 1 (ttl-exceeded), no neighbor for 10.100.0.99
# on the connected LAN (no-neighbor), a broken checksum (bad-checksum)
lan.append(Ether(src=host, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.100.0.10", pdst="10.100.0.1"))
lan.append(Ether(src=host, dst=lan_mac) / IP(src="10.100.0.10", dst="198.51.100.7", ttl=1) / ICMP())
wan = [Ether(src=router, dst=wan_mac) / IP(src="198.51.100.7", dst="10.100.0.10") /
       TCP(sport=443, dport=50000 + i, flags="SA") for i in range(20)]
for i in range(10):
    PEER_SA.seq_num = i + 1
    wan.append(Ether(src="02:00:00:00:00:02", dst=wan_mac) /
               PEER_SA.encrypt(IP(src="10.200.0.5", dst="10.100.0.10") /
                               UDP(sport=5000, dport=40000 + i) / Raw(b"from the peer site %d" % i)))
wan.append(Ether(src=router, dst=wan_mac) / IP(src="198.51.100.7", dst="10.100.0.99") / ICMP())
wan.append(Ether(src=router, dst=wan_mac) / IP(src="198.51.100.7", dst="10.100.0.10", chksum=0x1234) / ICMP())

wrpcap(f"{outdir}/lan0-in.pcap", lan)
wrpcap(f"{outdir}/wan0-in.pcap", wan)
print(f"sample traffic: {len(lan)} packets into lan0, {len(wan)} into wan0")
