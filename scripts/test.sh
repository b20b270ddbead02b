#!/bin/sh
# The README's second command (and CI's): set up, build, and run every test,
# twice: with the gcc build, then with a clang build under AddressSanitizer
# and UndefinedBehaviorSanitizer.  Any failure or sanitizer report fails
# the run.
set -eu
cd "$(dirname "$0")/.."

scripts/setup.sh

PY=/usr/bin/python3	# Debian's, which has Scapy and pytest

run_suite() {
	dir=$1
	echo "=== unit tests ($dir)"
	meson test -C "$dir" --print-errorlogs
	echo "=== pcap replay tests ($dir)"
	(cd tests/scapy && IPSECGW="$PWD/../../$dir/ipsecgw" $PY -m pytest -q -p no:cacheprovider)
}

echo "=== build: gcc"
[ -d build ] || CC=gcc meson setup build >/dev/null
ninja -C build
run_suite build

echo "=== build: clang, -fsanitize=address,undefined"
[ -d build-asan ] || CC=clang meson setup build-asan \
	-Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fno-sanitize-recover=all -Dbuildtype=debug >/dev/null
ninja -C build-asan
# Reports abort the process; the tests also fail on any report on stderr.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
run_suite build-asan
echo "=== all tests passed"
