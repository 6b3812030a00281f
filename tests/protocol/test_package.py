"""The package stays importable in Blender's Python: stdlib + msgpack only, no pickle."""

import pathlib
import subprocess
import sys

import shared_protocol

PACKAGE = pathlib.Path(shared_protocol.__file__).parent


def test_imports_without_numpy_or_pickle():
    code = ("import sys; import shared_protocol; "
            "bad = sorted(m for m in ('numpy', 'cv2', 'torch', 'zmq', 'bpy') if m in sys.modules); print(bad)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(PACKAGE.parent)})
    assert result.stdout.strip() == "[]"


def test_no_pickle_in_the_sources():
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        assert "pickle" not in text and "recv_pyobj" not in text, path.name


def test_architecture_contract_names_are_exported():
    contract = ["PROTOCOL_VERSION", "ProtocolError", "Message", "encode", "decode", "Limits", "validate_job",
                "Job", "Track", "MaskSpec", "Arrow", "GenerationParams", "new_id"]
    assert set(contract) <= set(shared_protocol.__all__)
    assert all(hasattr(shared_protocol, name) for name in shared_protocol.__all__)
    ids = {shared_protocol.new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(1 <= len(i) <= 64 for i in ids)
