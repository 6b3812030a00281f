"""is_loopback: the one answer both sides use for "only this machine can reach it"."""
import pytest

from shared_protocol import is_loopback


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
