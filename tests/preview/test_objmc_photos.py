"""Issue 5's proof: ObjMC <= 2 px for the preview on 24 varied jobs on real photographs."""
import pytest

from server.backends.preview import render_preview
from server.evaluation.objmc import objmc_for_video, objmc_over_videos
from server.motion import ArrowPath
from tests.preview.jobs import varied_jobs


@pytest.mark.slow
def test_preview_objmc_at_most_2px_on_varied_photo_jobs():
    jobs = varied_jobs()
    assert len(jobs) >= 20
    assert len({j["name"].split("-")[1] for j in jobs}) >= 10                # many photographs
    results = []
    for job in jobs:
        frames = render_preview(job["reference"], job["masks"], job["arrows"], job["easings"],
                                job["frames"], job["tau"], seed=0)
        disps = [ArrowPath(a).displacements(job["frames"], e) for a, e in zip(job["arrows"], job["easings"])]
        result = objmc_for_video(list(frames), job["masks"], displacements=disps)
        assert result.value <= 2.0, (job["name"], result.value)
        results.append(result)
    assert objmc_over_videos(results) <= 2.0


@pytest.mark.slow
def test_objmc_catches_motion_that_does_not_follow_the_arrow():
    """The same measurement fails a video whose regions go elsewhere (the bar is not trivially met)."""
    jobs = varied_jobs()[:6]
    for job in jobs:
        frames = render_preview(job["reference"], job["masks"], job["arrows"], job["easings"],
                                job["frames"], job["tau"], seed=0)
        # what the animator would have asked for with the arrows reversed
        wrong = [-ArrowPath(a).displacements(job["frames"], e) for a, e in zip(job["arrows"], job["easings"])]
        assert objmc_for_video(list(frames), job["masks"], displacements=wrong).value > 10.0, job["name"]
