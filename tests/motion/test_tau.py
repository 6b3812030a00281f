"""τ's gate: one curve shared by the preview backend and the TrackGo adapter."""
import math

import pytest

from server.backends import preview_render
from server.motion import MotionInputError, tau_gate
from server.trackgo import attention


def test_both_backends_use_the_one_gate():
    # If either backend grows its own τ curve again, a τ chosen in preview would mean
    # something else in the model.
    assert attention.tau_gate is tau_gate
    assert preview_render.tau_gate is tau_gate


def test_gate_endpoints_and_decades():
    assert tau_gate(0.0) == 1.0 and tau_gate(-1e4) == 0.0
    assert tau_gate(-1e2) == pytest.approx(1 - math.log10(101) / math.log10(10001))
    values = [tau_gate(t) for t in (0.0, -1e-3, -1.0, -10.0, -1e2, -1e3, -5e3, -1e4)]
    assert all(a > b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("bad", [1.0, -2e4, float("nan"), float("inf"), "x", None])
def test_gate_rejects_values_outside_the_range_naming_tau(bad):
    with pytest.raises(MotionInputError) as err:
        tau_gate(bad)
    assert err.value.field == "tau"
