"""Motion faithfulness of the preview: ObjMC (server.evaluation.objmc) over 24 varied photo jobs.

The jobs are the ones the test suite checks (tests/preview/jobs.py: 12 bundled scikit-image
photographs, 6 sizes and aspects, 1-3 tracks, straight and curved arrows, every easing, three
tau values, two camera moves). Prints name=value lines; the bar is objmc_px <= 2.
It also prints, at default settings (background_follow 0):
  background_changed_share  pixels outside the moved regions and their holes that differ from the
                            reference, over every frame of every job (target 0)
  fill_detail_share         mean gradient magnitude inside the inpainted holes / in a 16-px ring
                            around them, over the jobs' holes (1 = as detailed as the surroundings)
  telea_fill_detail_share   the same for OpenCV's Telea alone at full size (the reference method)

    PYTHONPATH=. .venvs/server/bin/python benchmarks/preview_objmc.py
"""
from __future__ import annotations

import numpy as np

import cv2

from server.backends.preview import preview_renderer, render_preview
from server.evaluation.objmc import objmc_for_video, objmc_over_videos
from server.motion import ArrowPath
from tests.preview.jobs import varied_jobs
from tests.preview.measures import background_changed_share, fill_detail_share


def main() -> None:
    results = []
    changed = counted = 0
    ours, telea = [], []
    for job in varied_jobs():
        frames = render_preview(job["reference"], job["masks"], job["arrows"], job["easings"], job["frames"],
                                job["tau"], seed=0)
        disps = [ArrowPath(a).displacements(job["frames"], e) for a, e in zip(job["arrows"], job["easings"])]
        results.append(objmc_for_video(list(frames), job["masks"], displacements=disps))
        share, pixels = background_changed_share(job["reference"], frames, job["masks"], job["arrows"],
                                                 job["easings"])
        changed += share * pixels
        counted += pixels
        renderer = preview_renderer(job["reference"], job["masks"], job["arrows"], job["easings"], 2)
        holes = renderer.holes
        if holes.any() and not holes.all() and (~holes).mean() > 0.2:
            ours.append(fill_detail_share(renderer.plate, holes))
            plain = job["reference"].copy()
            plain[holes] = cv2.inpaint(job["reference"], holes.astype("uint8"), 3, cv2.INPAINT_TELEA)[holes]
            telea.append(fill_detail_share(plain, holes))
    per_video = np.array([r.value for r in results])
    print(f"jobs={len(results)}")
    print(f"tracks={sum(len(r.anchors) for r in results)}")
    print(f"objmc_px={objmc_over_videos(results):.3f}")
    print(f"objmc_worst_video_px={per_video.max():.3f}")
    print(f"objmc_worst_frame_px={max(r.errors.max() for r in results):.3f}")
    print(f"background_pixels_checked={counted}")
    print(f"background_changed_share={changed / counted:.6f}")
    print(f"fill_jobs={len(ours)}")
    print(f"fill_detail_share={np.mean(ours):.3f}")
    print(f"fill_detail_share_worst={np.min(ours):.3f}")
    print(f"telea_fill_detail_share={np.mean(telea):.3f}")


if __name__ == "__main__":
    main()
