"""Torch-free point trajectories shared by every backend and by training (see docs/motion.md).

masks + arrows -> sampled points (Eq. 10, K-means) -> per-frame positions -> P (L, H, W, 3).
"""
from .arrows import EASINGS, ArrowPath, check_easing, check_progress, eased_times
from .errors import MotionInputError
from .job_inputs import MotionInputs, motion_inputs_for_job, plan_for_job, region_options, trajectories_for_job
from .masks import mask_from_polygons, resize_mask, scale_points
from .rendering import MAX_COMPONENTS, PALETTE, render_trajectories
from .sampling import points_per_component, sample_points, snap_inside
from .tau import TAU_FROZEN, tau_gate
from .trajectories import Trajectories, trajectories_from_arrows, trajectories_from_tracks

__all__ = [
    "ArrowPath", "EASINGS", "MAX_COMPONENTS", "MotionInputError", "PALETTE", "Trajectories",
    "MotionInputs", "check_easing", "check_progress", "motion_inputs_for_job", "plan_for_job", "region_options", "trajectories_for_job", "eased_times", "mask_from_polygons", "points_per_component",
    "render_trajectories", "resize_mask", "sample_points", "scale_points", "snap_inside",
    "trajectories_from_arrows", "trajectories_from_tracks", "TAU_FROZEN", "tau_gate",
]
