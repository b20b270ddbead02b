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
	-- -f config/ipsecgw.yaml --idle-exit 100 --stats-json "$out/macs.json" >/dev/null
macs=$(/usr/bin/python3 -c "import json; p = json.load(open('$out/macs.json'))['ports']; print(p['wan0']['mac'], p['lan0']['mac'])")
# shellcheck disable=SC2086
/usr/bin/python3 scripts/sample_traffic.py $macs "$out"

echo "--- ipsecgw (config/ipsecgw.yaml, wan0 = net_pcap0, lan0 = net_pcap1)"
build/ipsecgw $eal \
	--vdev "net_pcap0,rx_pcap=$out/wan0-in.pcap,tx_pcap=$out/wan0-out.pcap" \
	--vdev "net_pcap1,rx_pcap=$out/lan0-in.pcap,tx_pcap=$out/lan0-out.pcap" \
	-- -f config/ipsecgw.yaml --idle-exit 300 --stats-json "$out/stats.json"

for p in wan0 lan0; do
	echo "--- what ipsecgw sent on $p ($out/$p-out.pcap)"
	/usr/bin/python3 -c "
from scapy.all import rdpcap
pkts = rdpcap('$out/$p-out.pcap')
for p in pkts[:6]:
    print('  ', p.summary())
if len(pkts) > 6:
    print('   ... %d packets in all' % len(pkts))
"
done
echo "--- every counter: $out/stats.json"
