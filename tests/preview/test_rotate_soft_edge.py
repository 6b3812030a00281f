"""Per-track options of protocol 1.1: a region that turns along a curved arrow (``rotate``) and a
feathered edge (``edge_softness``); both off by default, bit-exact with the renderer before them."""
import cv2
import numpy as np
import pytest

import shared_protocol as sp
from server.backends.preview_render import PreviewRenderer
from server.motion import ArrowPath, motion_inputs_for_job, region_options, trajectories_from_arrows
from tests.preview.conftest import GREY, RED, redness, weighted_centre

H, W = 320, 512
FRAMES = 9


def rectangle_scene(centre=(150, 150), size=(90, 30)):
    """Grey with one red rectangle, long side along x; returns (reference, mask)."""
    ref = np.empty((H, W, 3), np.uint8)
    ref[:] = GREY
    mask = np.zeros((H, W), bool)
    x, y = centre
    mask[y - size[1] // 2:y + size[1] // 2, x - size[0] // 2:x + size[0] // 2] = True
    ref[mask] = RED
    return ref, mask


def arc(centre=(150, 150), radius=140.0, turn_deg=40.0, segments=80):
    """A circular arrow starting at ``centre`` heading +x and bending downwards (y down) by ``turn_deg``."""
    t = np.radians(np.linspace(0.0, turn_deg, segments + 1))
    return np.stack([centre[0] + radius * np.sin(t), centre[1] + radius * (1 - np.cos(t))], axis=1)


def orientation_deg(weight):
    """The principal axis angle (degrees, image axes) of a weight map, from its central moments."""
    m = cv2.moments(weight.astype(np.float32))
    return np.degrees(0.5 * np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"]))


def renderer(ref, mask, arrow, rotate=False, softness=0.0, options=True):
    traj = trajectories_from_arrows([mask], [arrow], "linear", FRAMES, seed=3)
    if not options:
        return PreviewRenderer(ref, [mask], traj)
    angles = [ArrowPath(arrow).turn_angles(FRAMES)] if rotate else None
    return PreviewRenderer(ref, [mask], traj, angles=angles, softness=[softness])


def frames_of(r):
    return np.stack([np.concatenate([f, m[..., None].astype(np.uint8)], axis=2)
                     for f, m in (r.frame_and_mask(i) for i in range(r.num_frames))])


def test_defaults_through_the_job_are_bit_identical_to_the_renderer_without_options():
    ref, mask = rectangle_scene()
    job_body, payloads = sp.job_body(sp.raw_image(ref.tobytes(), W, H, 3),
                                     [sp.track(sp.raw_image((mask * 255).astype(np.uint8).tobytes(), W, H, 1),
                                               arc().tolist())],
                                     {"frames": FRAMES, "width": W, "height": H})
    assert "rotate" not in job_body["tracks"][0] and "edge_softness" not in job_body["tracks"][0]
    inputs = motion_inputs_for_job(sp.validation.validate_job(job_body, payloads, sp.Limits()))
    traj = trajectories_from_arrows(inputs.masks, inputs.arrows, inputs.easings, FRAMES, seed=3)
    with_options = PreviewRenderer(inputs.reference, inputs.masks, traj, **region_options(inputs))
    without = PreviewRenderer(inputs.reference, inputs.masks, traj)
    np.testing.assert_array_equal(frames_of(with_options), frames_of(without))


def test_a_curved_arrow_turns_the_region_by_its_tangent_angle():
    ref, mask = rectangle_scene()
    path = arc(turn_deg=40.0)
    r = renderer(ref, mask, path, rotate=True)
    flat = renderer(ref, mask, path)
    start = weighted_centre(mask.astype(float))
    disp = ArrowPath(path).displacements(FRAMES)
    for i in (FRAMES // 2, FRAMES - 1):
        frame, region = r.frame_and_mask(i)
        red = redness(frame) > 0.5
        # the arc's true tangent turn at this frame (linear timing: a share i/(L-1) of the 40 degrees)
        expected = 40.0 * i / (FRAMES - 1)
        assert abs(orientation_deg(red) - expected) <= 2.0, (i, orientation_deg(red), expected)
        assert abs(orientation_deg(region) - expected) <= 2.0, (i, orientation_deg(region), expected)
        # turned about its anchor (the sampled points' centroid) carried along the arrow
        anchor = r.traj.positions[0].mean(axis=0)
        a = np.radians(expected)
        turned = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ (start - anchor)
        assert np.hypot(*(weighted_centre(red.astype(float)) - (anchor + disp[i] + turned))) <= 1.5
        assert abs(orientation_deg(redness(flat.frame(i)) > 0.5)) <= 1.0     # without rotate: no turn


def test_a_straight_arrow_with_rotate_is_the_same_as_without():
    ref, mask = rectangle_scene()
    straight = [(150, 150), (200, 175), (250, 200), (330, 240)]   # several collinear points
    np.testing.assert_array_equal(frames_of(renderer(ref, mask, straight, rotate=True)),
                                  frames_of(renderer(ref, mask, straight, options=False)))


@pytest.mark.parametrize("softness", [6.0, 12.0])
def test_soft_edge_ramps_inside_the_edge_and_leaves_the_rest_untouched(softness):
    ref, mask = rectangle_scene(size=(120, 80))
    move = (60, 20)
    arrow = [(150, 150), (150 + move[0], 150 + move[1])]
    soft = renderer(ref, mask, arrow, softness=softness).frame(FRAMES - 1)
    hard = renderer(ref, mask, arrow, options=False).frame(FRAMES - 1)
    moved = np.roll(mask, move, axis=(1, 0))
    inside = cv2.distanceTransform(moved.astype(np.uint8), cv2.DIST_L2, 5)
    differs = (soft != hard).any(axis=2)
    assert differs.any()
    # only a band of about ``softness`` px inside the region's edge changes (the core is 2 px wider)
    assert not (differs & ~cv2.dilate(moved.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)).any()
    assert not (differs & (inside > softness)).any()
    # and in that band the colour is part region, part background
    band = (inside >= 1) & (inside <= softness - 4)
    share = redness(soft)[band]
    assert share.min() > 0.02 and share.max() < 0.98, (share.min(), share.max())
    assert (redness(hard)[band] > 0.99).all()


def test_the_preview_backend_honours_the_job_options():
    """Through ``PreviewBackend.run``: a job asking for a turn and a soft edge gets both."""
    from server.backends import Frame, JobContext, create_backend

    ref, mask = rectangle_scene()
    mask_payload = sp.raw_image((mask * 255).astype(np.uint8).tobytes(), W, H, 1)

    def last_frame(**options):
        body, payloads = sp.job_body(sp.raw_image(ref.tobytes(), W, H, 3),
                                     [sp.track(mask_payload, arc().tolist(), **options)],
                                     {"frames": FRAMES, "width": W, "height": H})
        backend = create_backend("preview")
        backend.load(lambda _: None)
        events = backend.run(sp.validate_job(body, payloads), JobContext(job_id="j", seed=3))
        return [e for e in events if isinstance(e, Frame)][-1].rgb

    plain, turned, soft = last_frame(), last_frame(rotate=True), last_frame(edge_softness=8.0)
    assert abs(orientation_deg(redness(plain) > 0.5)) <= 1.0
    assert abs(orientation_deg(redness(turned) > 0.5) - 40.0) <= 2.0
    share = redness(soft)
    assert ((share > 0.05) & (share < 0.95)).sum() > ((redness(plain) > 0.05) & (redness(plain) < 0.95)).sum() * 2


def test_the_dual_clock_mask_turns_with_the_region():
    """M (where the dual-clock backend holds the region to V) is the turned region, not the still one."""
    from server.backends.dualclock import motion_signal

    ref, mask = rectangle_scene()
    path = arc(turn_deg=40.0)
    traj = trajectories_from_arrows([mask], [path], "linear", FRAMES, seed=3)
    motion = motion_signal(ref, [mask], traj, 0.32, 0.42, angles=[ArrowPath(path).turn_angles(FRAMES)])
    assert abs(orientation_deg(motion.masks[-1]) - 40.0) <= 2.0
    assert abs(orientation_deg(redness(motion.video[-1]) > 0.5) - 40.0) <= 2.0
