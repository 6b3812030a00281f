"""is_loopback: the one answer both sides use for "only this machine can reach it"."""
import pytest

from shared_protocol import is_ipv6, is_loopback


@pytest.mark.parametrize("address", [
    "tcp://127.0.0.1:5555", "tcp://127.3.2.1:1", "tcp://localhost:5555", "tcp://[::1]:5555",
    "tcp://127.0.0.1:*", "ipc:///tmp/trackgo", "inproc://jobs",
])
def test_local_endpoints(address):
    assert is_loopback(address)


@pytest.mark.parametrize("address", [
    "tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.0.0.7:5555", "tcp://192.168.1.20:5555",
    "tcp://gpu-host:5555", "tcp://[::]:5555", "tcp://eth0:5555", "udp://127.0.0.1:5555",
    "tcp://[::1:5555", "", "127.0.0.1:5555",
])
def test_wider_or_unknown_endpoints_are_not_local(address):
    assert not is_loopback(address)


@pytest.mark.parametrize("address", [
    "tcp://127.1:5555",              # the short form inet_aton (and so ZeroMQ) reads as 127.0.0.1
    "tcp://127.0.1:5555",
    "tcp://[::ffff:127.0.0.1]:5555",  # IPv4-mapped loopback
    "tcp://lo:5555", "tcp://lo0:5555",  # the loopback interface by name (Linux, macOS/BSD)
    "tcp://127.255.255.254:1",
    "ipc:///tmp/odd://name",         # only the first "://" ends the scheme
])
def test_other_spellings_of_this_machine_are_local(address):
    assert is_loopback(address)


@pytest.mark.parametrize("address", [
    "tcp://128.0.0.1:5555", "tcp://10.1:5555",      # short forms of other hosts
    "tcp://[::ffff:10.0.0.1]:5555",                 # IPv4-mapped, not loopback
    "tcp://127.1.x:5555",                           # digits and letters: a name, not provably local
    "tcp://1.2.3.4.5:5555",                          # digits and dots inet_aton refuses
    "tcp://:5555",                                   # no host at all
    "tcp://lo1:5555", "tcp://localhost.example:5555",
    "tcp://0x7f.1:5555", "tcp://0X7F.0.0.1:5555",  # hex spellings inet_aton reads: only digits and dots count
    "tcp://127.0X0.0.1:5555",
    "ipcx:///tmp/x", "inproc:/jobs",
])
def test_near_misses_are_not_local(address):
    assert not is_loopback(address)


@pytest.mark.parametrize("address, ipv6", [
    ("tcp://[::1]:5555", True), ("tcp://[fe80::1]:1", True), ("tcp://127.0.0.1:5555", False),
    ("tcp://localhost:5555", False), ("ipc://[weird]", False), ("udp://[::1]:5555", False),
])
def test_is_ipv6_only_for_bracketed_tcp_hosts(address, ipv6):
    assert is_ipv6(address) is ipv6
