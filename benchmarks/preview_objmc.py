"""Motion faithfulness of the preview: ObjMC (server.evaluation.objmc) over 24 varied photo jobs.

The jobs are the ones the test suite checks (tests/preview/jobs.py: 12 bundled scikit-image
photographs, 6 sizes and aspects, 1-3 tracks, straight and curved arrows, every easing, three
tau values, two camera moves). Prints name=value lines; the bar is objmc_px <= 2.

    PYTHONPATH=. .venvs/server/bin/python benchmarks/preview_objmc.py
"""
from __future__ import annotations

import numpy as np

from server.backends.preview import render_preview
from server.evaluation.objmc import objmc_for_video, objmc_over_videos
from server.motion import ArrowPath
from tests.preview.jobs import varied_jobs


def main() -> None:
    results = []
    for job in varied_jobs():
        frames = render_preview(job["reference"], job["masks"], job["arrows"], job["easings"], job["frames"],
                                job["tau"], seed=0)
        disps = [ArrowPath(a).displacements(job["frames"], e) for a, e in zip(job["arrows"], job["easings"])]
        results.append(objmc_for_video(list(frames), job["masks"], displacements=disps))
    per_video = np.array([r.value for r in results])
    print(f"jobs={len(results)}")
    print(f"tracks={sum(len(r.anchors) for r in results)}")
    print(f"objmc_px={objmc_over_videos(results):.3f}")
    print(f"objmc_worst_video_px={per_video.max():.3f}")
    print(f"objmc_worst_frame_px={max(r.errors.max() for r in results):.3f}")


if __name__ == "__main__":
    main()
