"""CURVE: allowed keys connect, unknown keys get nothing; the bind policy; trackgo-keygen."""
from __future__ import annotations

import os
import shutil

import pytest
import zmq
import zmq.auth

from server.keygen import main as keygen
from server.security import SecurityError, check_bind_policy, is_loopback, load_curve_keys
from tests.server.client import TestClient
from tests.server.conftest import make_job


@pytest.fixture
def keys(tmp_path):
    """Server keys, one allowed client and one stranger, made with trackgo-keygen."""
    assert keygen(["server", "--dir", str(tmp_path / "server")]) == 0
    assert keygen(["alice", "--dir", str(tmp_path / "alice")]) == 0
    assert keygen(["mallory", "--dir", str(tmp_path / "mallory")]) == 0
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    shutil.copy(tmp_path / "alice" / "alice.key", allowed)
    return tmp_path


def curve_for(keys, name: str) -> tuple:
    server_public, _ = zmq.auth.load_certificate(keys / "server" / "server.key")
    public, secret = zmq.auth.load_certificate(keys / name / f"{name}.key_secret")
    return server_public, public, secret


def test_keygen_writes_private_secret_and_refuses_overwrite(keys, capsys):
    secret = keys / "server" / "server.key_secret"
    assert secret.exists() and (keys / "server" / "server.key").exists()
    assert oct(os.stat(secret).st_mode & 0o777) == "0o600"
    assert keygen(["server", "--dir", str(keys / "server")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert keygen(["../evil", "--dir", str(keys)]) == 2


def test_allowed_key_connects_unknown_key_gets_nothing(server_factory, keys):
    server = server_factory(server_key=str(keys / "server" / "server.key_secret"),
                            allowed_clients=str(keys / "allowed"))
    alice = TestClient(server.endpoint, curve=curve_for(keys, "alice"))
    mallory = TestClient(server.endpoint, curve=curve_for(keys, "mallory"))
    plain = TestClient(server.endpoint)
    try:
        assert alice.hello().type == "welcome"
        assert alice.run_job(make_job(frames=2, seed=1)).final.type == "done"
        for stranger in (mallory, plain):
            try:
                stranger.send(make_job(frames=2, seed=2))
            except zmq.Again:
                pass        # the handshake already failed: there is no connection to send on
            assert stranger.recv(1.0) is None
        assert not server.service.jobs and len(server.service.sessions) <= 1  # alice at most
    finally:
        for c in (alice, mallory, plain):
            c.close()


def test_bind_policy():
    assert is_loopback("tcp://127.0.0.1:5555") and is_loopback("tcp://localhost:1")
    assert is_loopback("tcp://[::1]:5555") and is_loopback("ipc:///tmp/trackgo") and is_loopback("tcp://127.0.0.1:*")
    for wide in ("tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://192.168.1.5:5555", "tcp://eth0:5555"):
        assert not is_loopback(wide)
        with pytest.raises(SecurityError, match="--server-key"):
            check_bind_policy(wide, None, insecure=False)
        check_bind_policy(wide, None, insecure=True)     # allowed, with a warning
    check_bind_policy("tcp://127.0.0.1:5555", None, insecure=False)


def test_bad_key_files(keys):
    with pytest.raises(SecurityError, match="holds only a public key"):
        load_curve_keys(keys / "server" / "server.key", keys / "allowed")
    with pytest.raises(SecurityError, match="allowed_clients: expected a directory"):
        load_curve_keys(keys / "server" / "server.key_secret", keys / "nope")
    ok = load_curve_keys(keys / "server" / "server.key_secret", keys / "allowed")
    check_bind_policy("tcp://0.0.0.0:5555", ok, insecure=False)


def test_keygen_secret_is_never_readable_by_others(tmp_path, monkeypatch):
    import os
    import stat

    import zmq.auth
    real = zmq.auth.create_certificates
    modes = []

    def spy(folder, name):
        pub, sec = real(folder, name)
        modes.append(stat.S_IMODE(os.stat(sec).st_mode))   # before keygen could chmod it
        return pub, sec

    monkeypatch.setattr(zmq.auth, "create_certificates", spy)
    old = os.umask(0o022)
    try:
        assert keygen(["alice", "--dir", str(tmp_path)]) == 0
        assert keygen(["alice", "--dir", str(tmp_path), "--force"]) == 0
    finally:
        os.umask(old)
    assert len(modes) == 2 and all(mode & 0o077 == 0 for mode in modes), [oct(m) for m in modes]
    assert stat.S_IMODE(os.stat(tmp_path / "alice.key_secret").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "alice.key").st_mode) == 0o644
    assert os.umask(0o022) == 0o022   # keygen put the process umask back
