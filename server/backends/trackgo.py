"""The ``trackgo`` and ``trackgo-tiny`` backends: a validated job -> TrackGo frames, streamed.

``trackgo`` loads SVD and the adapter from the configured folders (``svd_path``,
``adapter_path``); ``trackgo-tiny`` creates the tiny random model in a cache folder on first use
and loads it through the same path (CPU by default): a fast way to exercise the whole server
without weights. The pipeline reports through callbacks; ``run`` drives it on a helper thread and
turns the callbacks into the generator's events, so frames leave as soon as they are decoded.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from server.backends.base import BackendError, BackendOptions, Done, Event, Frame, JobContext, Progress
from server.backends.failures import OOM_HINT, is_out_of_memory

TINY_FOLDER_NAME = "trackgo-tiny-v1"
# The job parameters a backend honours (welcome.backends[].params, protocol 1.1).
SVD_PARAMS = ("backend", "frames", "width", "height", "seed", "fps", "motion_bucket_id", "noise_aug_strength",
              "num_inference_steps", "min_guidance_scale", "max_guidance_scale", "decode_chunk_size")
TRACKGO_PARAMS = SVD_PARAMS + ("alpha", "tau")


def default_cache_dir() -> Path:
    """Where trackgo-tiny writes its model: $TRACKGO_CACHE, else $XDG_CACHE_HOME/trackgo, else ~/.cache/trackgo."""
    if os.environ.get("TRACKGO_CACHE"):
        return Path(os.environ["TRACKGO_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trackgo"


class _Finished:
    def __init__(self, output) -> None:
        self.output = output


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class TrackGoBackend:
    """One pipeline on one device; loads once, runs one job at a time."""

    params = TRACKGO_PARAMS

    def __init__(self, options: BackendOptions, name: str = "trackgo", tiny: bool = False) -> None:
        self.options = options
        self.name = name
        self.tiny = tiny
        self.device = options.device
        self.pipeline = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    def _model_paths(self, report: Callable[[str], None]) -> tuple[Path, Path]:
        if self.tiny:
            from server.trackgo.tiny import ADAPTER_SUBFOLDER, SVD_SUBFOLDER, create_tiny_model

            cache = Path(self.options.extra.get("cache_dir") or default_cache_dir())
            report(f"preparing the tiny random TrackGo model in {cache / TINY_FOLDER_NAME}")
            folder = create_tiny_model(cache / TINY_FOLDER_NAME)
            return folder / SVD_SUBFOLDER, folder / ADAPTER_SUBFOLDER
        missing = [name for name in ("svd_path", "adapter_path") if not getattr(self.options, name)]
        if missing:
            raise BackendError(
                f"trackgo backend: {' and '.join(missing)} not configured",
                code="not_configured",
                hint="set svd_path to a local diffusers SVD-XT folder and adapter_path to a TrackAdapter "
                     "folder (config.json + diffusion_pytorch_model.safetensors), or use the preview backend",
            )
        return Path(self.options.svd_path), Path(self.options.adapter_path)

    def load(self, report: Callable[[str], None]) -> None:
        with self._load_lock:
            if self.pipeline is not None:
                return
            from server.trackgo.loading import ModelFilesError, load_pipeline

            svd_path, adapter_path = self._model_paths(report)
            device = self.options.device
            if self.tiny and device == "auto":
                device = "cpu"
            report(f"loading TrackGo ({svd_path}, {adapter_path}) on {device}")
            try:
                self.pipeline = load_pipeline(svd_path, adapter_path, device=device, dtype=self.options.dtype,
                                              cpu_offload=self.options.cpu_offload)
            except ModelFilesError as exc:
                raise BackendError(str(exc), code="model_files",
                                   hint="check svd_path / adapter_path in the server configuration") from exc
            except ValueError as exc:
                raise BackendError(str(exc), code="bad_option") from exc
            except RuntimeError as exc:                   # SVD-XT on a small card without --cpu-offload
                if not is_out_of_memory(exc):
                    raise
                raise BackendError(f"the device ran out of memory while loading TrackGo ({str(exc)[:200]})",
                                   code="out_of_memory", hint=OOM_HINT) from exc
            report(f"TrackGo ready ({self.pipeline.unet.dtype}, device {self.pipeline._execution_device})")

    # ------------------------------------------------------------------ running
    def run(self, job, ctx: JobContext) -> Iterator[Event]:
        if self.pipeline is None:
            self.load(lambda text: None)
        with self._run_lock:
            yield from self._run(job, ctx)

    def _run(self, job, ctx: JobContext) -> Iterator[Event]:
        from server.backends.job_motion import motion_for_job
        from server.trackgo.pipeline import Cancelled

        started = time.perf_counter()
        yield Progress("preparing", 0, 1)
        inputs, tracks = motion_for_job(job, ctx.seed)
        yield Progress("preparing", 1, 1)

        params = job.params
        events: queue.Queue = queue.Queue(maxsize=8)
        stop = threading.Event()

        def emit(item) -> None:
            while not stop.is_set():
                try:
                    events.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue
            raise Cancelled("the job's consumer went away")

        def cancelled() -> bool:
            return stop.is_set() or ctx.cancelled()

        def work() -> None:
            try:
                output = self._generate(
                    inputs, tracks, params, ctx.seed,
                    on_step=lambda step, total: emit(Progress("denoising", step, total)),
                    on_frame=lambda index, total, rgb: emit(Frame(index, total, rgb)),
                    cancelled=cancelled,
                )
                emit(_Finished(output))
            except Cancelled:
                if not stop.is_set():
                    emit(None)
            except BaseException as exc:  # handed to the consuming thread, raised there
                if not stop.is_set():
                    emit(_Failed(exc))

        thread = threading.Thread(target=work, name=f"trackgo-{ctx.job_id}", daemon=True)
        thread.start()
        try:
            while True:
                item = events.get()
                if item is None:
                    return                                   # cancelled: the server sends `cancelled`
                if isinstance(item, _Failed):
                    raise self._user_error(item.error) from item.error
                if isinstance(item, _Finished):
                    yield Done(self._done_info(item.output, started))
                    return
                yield item
                if isinstance(item, Frame):
                    yield Progress("decoding", item.index + 1, item.total)
        finally:
            stop.set()
            thread.join()

    def _generate(self, inputs, tracks, params, seed: int, **callbacks):
        """One pipeline call for the job (runs on the helper thread); dualclock adds its signal."""
        return self.pipeline.generate(self._image(inputs), tracks, alpha=params.alpha, tau=params.tau,
                                      **self._svd_settings(inputs, params, seed), **callbacks)

    @staticmethod
    def _image(inputs):
        import PIL.Image

        return PIL.Image.fromarray(inputs.reference)

    def _svd_settings(self, inputs, params, seed: int) -> dict:
        """The job's SVD settings as ``generate`` keywords (every mode of the pipeline takes them)."""
        return dict(
            height=inputs.height,
            width=inputs.width,
            num_inference_steps=params.num_inference_steps,
            min_guidance_scale=params.min_guidance_scale,
            max_guidance_scale=params.max_guidance_scale,
            fps=params.fps,
            motion_bucket_id=params.motion_bucket_id,
            noise_aug_strength=params.noise_aug_strength,
            decode_chunk_size=params.decode_chunk_size or self.options.decode_chunk_size,
            seed=seed,
        )

    def _user_error(self, error: BaseException) -> BaseException:
        if is_out_of_memory(error):
            return BackendError(f"the device ran out of memory while generating ({str(error)[:200]})",
                                code="out_of_memory", hint=OOM_HINT)
        if isinstance(error, ValueError):
            return BackendError(str(error), code="invalid_field")
        return error

    def _done_info(self, output, started: float) -> dict:
        info = {"backend": self.name, "seed": int(output.seed), "frames": int(len(output.frames)),
                "device": str(self.pipeline._execution_device), "dtype": str(self.pipeline.unet.dtype)}
        info.update({key: round(value, 4) for key, value in output.timings.items()})
        info["total_s"] = round(time.perf_counter() - started, 4)
        return info


def create_backend(options: BackendOptions | None = None) -> TrackGoBackend:
    """Registry factory for ``trackgo`` (real weights from svd_path + adapter_path)."""
    return TrackGoBackend(options or BackendOptions(), name="trackgo")


def create_tiny_backend(options: BackendOptions | None = None) -> TrackGoBackend:
    """Registry factory for ``trackgo-tiny`` (tiny random model, created on first use)."""
    return TrackGoBackend(options or BackendOptions(), name="trackgo-tiny", tiny=True)
