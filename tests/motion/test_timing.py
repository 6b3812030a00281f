"""Explicit per-frame timing (protocol 1.1) moves every point exactly where the array says."""
import numpy as np
import pytest

from server.motion import ArrowPath, MotionInputError, plan_for_job, trajectories_from_arrows
from shared_protocol import job_body, raw_image, track, validate_job


def test_progress_places_each_frame_on_the_arrow_with_holds(box_mask):
    arrow = ArrowPath([(40, 30), (100, 30), (100, 60)], "tracks[0].arrow")     # length 90
    progress = [0.0, 0.0, 1 / 3, 2 / 3, 2 / 3, 1.0]                         # late start, hold
    traj = trajectories_from_arrows([box_mask], [arrow], ["linear"], 6, seed=3, progress=[progress])
    d = traj.displacements()[:, 0]
    np.testing.assert_allclose(d, [[0, 0], [0, 0], [30, 0], [60, 0], [60, 0], [60, 30]], atol=1e-4)
    # Easing is ignored where an array is given; without one, linear timing as before.
    eased = trajectories_from_arrows([box_mask], [arrow], ["ease-in"], 6, seed=3, progress=[progress])
    np.testing.assert_array_equal(eased.positions, traj.positions)
    plain = trajectories_from_arrows([box_mask], [arrow], ["linear"], 6, seed=3)
    np.testing.assert_allclose(plain.displacements()[:, 0, 0], [0, 18, 36, 54, 60, 60], atol=1e-4)


def test_frame_zero_stays_on_the_reference_when_progress_starts_late(box_mask):
    arrow = ArrowPath([(0, 0), (100, 0)])
    traj = trajectories_from_arrows([box_mask], [arrow], ["linear"], 3, seed=1, progress=[[0.5, 0.75, 1.0]])
    np.testing.assert_allclose(traj.displacements()[:, 0], [[0, 0], [25, 0], [50, 0]], atol=1e-4)


@pytest.mark.parametrize("progress, words", [([0, 0.5], "one value per frame"), ([0, np.nan, 1], "finite"),
                                             ([0, 2, 1], "[0, 1]")])
def test_bad_progress_names_the_track(box_mask, progress, words):
    arrow = ArrowPath([(0, 0), (100, 0)], "tracks[0].arrow")
    with pytest.raises(MotionInputError, match=r"tracks\[0\]\.progress") as info:
        trajectories_from_arrows([box_mask], [arrow], ["linear"], 3, seed=1, progress=[progress])
    assert words in str(info.value)


def test_the_servers_plan_follows_the_progress_array():
    ref = raw_image(bytes(256 * 128 * 3), 256, 128, 3)
    mask = np.zeros((128, 256), np.uint8)
    mask[40:60, 20:40] = 255
    progress = [0.0, 0.25, 0.25, 1.0]
    body, payloads = job_body(ref, [track(raw_image(mask.tobytes(), 256, 128, 1), [(30, 50), (130, 50)],
                                          progress=progress)], {"frames": 4, "width": 256, "height": 128})
    plan = plan_for_job(validate_job(body, payloads), seed=5)
    pos = np.array(plan["tracks"][0]["positions"])
    np.testing.assert_allclose((pos - pos[:1]).mean(axis=1), [[0, 0], [25, 0], [25, 0], [100, 0]], atol=1e-3)
