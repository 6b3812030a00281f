"""Every backend's first step: a validated job's motion inputs and point trajectories.

One place turns bad motion input (an empty mask, a degenerate arrow, ...) into the job's
``invalid_field`` error, so the preview and TrackGo backends read and fail the same way.
"""
from __future__ import annotations

from server.backends.base import BackendError
from server.motion import MotionInputError, MotionInputs, Trajectories, motion_inputs_for_job, trajectories_for_job


def invalid_input(exc: MotionInputError) -> BackendError:
    """The job error for bad motion input; the message names the field at fault."""
    return BackendError(str(exc), code="invalid_field", hint="check the track named in the message")


def motion_for_job(job, seed: int) -> tuple[MotionInputs, Trajectories]:
    """Masks/arrows at output size and the sampled trajectories, or ``invalid_field``."""
    try:
        inputs = motion_inputs_for_job(job)
        return inputs, trajectories_for_job(job, seed, inputs)
    except MotionInputError as exc:
        raise invalid_input(exc) from exc
