#!/bin/sh
# The README's first command: set up, build, and run ipsecgw's main job on
# virtual net_pcap ports with the shipped example configuration
# (config/ipsecgw.yaml) and sample traffic, then show what came out.
set -eu
cd "$(dirname "$0")/.."

scripts/setup.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

out=demo-out
rm -rf "$out" && mkdir -p "$out"
eal="-l 0-1 --no-huge -m 512 --no-pci --log-level=*:warning --no-telemetry --file-prefix ipsecgw-demo-$$"

# A first run with empty inputs tells us the virtual ports' MAC addresses.
/usr/bin/python3 -c "from scapy.all import wrpcap; wrpcap('$out/empty.pcap', [], linktype=1)"
build/ipsecgw $eal \
	--vdev "net_pcap0,rx_pcap=$out/empty.pcap,tx_pcap=$out/discard0.pcap" \
	--vdev "net_pcap1,rx_pcap=$out/empty.pcap,tx_pcap=$out/discard1.pcap" \
	-- -f config/ipsecgw.yaml -S "$out/macs.sock" --idle-exit 100 --stats-json "$out/macs.json" >/dev/null
macs=$(/usr/bin/python3 -c "import json; p = json.load(open('$out/macs.json'))['ports']; print(p['wan0']['mac'], p['lan0']['mac'])")
# shellcheck disable=SC2086
/usr/bin/python3 scripts/sample_traffic.py $macs "$out"

echo "--- ipsecgw (config/ipsecgw.yaml, wan0 = net_pcap0, lan0 = net_pcap1)"
build/ipsecgw $eal \
	--vdev "net_pcap0,rx_pcap=$out/wan0-in.pcap,tx_pcap=$out/wan0-out.pcap" \
	--vdev "net_pcap1,rx_pcap=$out/lan0-in.pcap,tx_pcap=$out/lan0-out.pcap" \
	-- -f config/ipsecgw.yaml -S "$out/ipsecgw.sock" --idle-exit 300 --stats-json "$out/stats.json"

for p in wan0 lan0; do
	echo "--- what ipsecgw sent on $p ($out/$p-out.pcap)"
	/usr/bin/python3 -c "
from scapy.all import rdpcap, IP
from scapy.layers.ipsec import ESP, SecurityAssociation
# the gateway's outbound SA, opened by Scapy: an implementation not ours
sa = SecurityAssociation(ESP, spi=0x1000, crypt_algo='AES-GCM',
    crypt_key=bytes.fromhex('0102030405060708090a0b0c0d0e0f1011121314'),
    tunnel_header=IP(src='192.168.0.1', dst='192.168.0.2'))
pkts = rdpcap('$out/$p-out.pcap')
esp = [p for p in pkts if ESP in p]
plain = [p for p in pkts if ESP not in p]
for p in plain[:4]:
    print('  ', p.summary())
if len(plain) > 4:
    print('   ... %d plain packets in all' % len(plain))
for p in esp[:4]:
    print('   ESP spi %#x seq %d, Scapy decrypts: %s' % (p[ESP].spi, p[ESP].seq, sa.decrypt(IP(bytes(p[IP]))).summary()))
if len(esp) > 4:
    print('   ... %d ESP packets in all, every one decrypted by Scapy' % len(esp))
    for p in esp:
        sa.decrypt(IP(bytes(p[IP])))
"
done
echo "--- every counter: $out/stats.json"
