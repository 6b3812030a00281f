"""Runtime state of the add-on and the timer that drives it.

One :class:`Session` holds the socket client, an optional local server, the jobs in flight and
the last overlay plan. :func:`tick` is the ``bpy.app.timers`` callback: it handles what has
arrived within a small time budget (default 3 ms), writes frames, grows strips, updates the
panel, and asks to be called again soon. It never waits on the network.
"""
from __future__ import annotations

import atexit
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import bpy

from ..io import client as io_client
from ..io import prepare as io_prepare
from ..io.frames import BackgroundWriter, FrameWriter, check_png
from ..io.launcher import LocalServer, free_local_port
from ..io.progress import JobProgress
from . import compat, preferences, properties, strips

TICK_BUDGET_S = 0.003
ACTIVE_INTERVAL_S = 0.02
IDLE_INTERVAL_S = 0.25


@dataclass
class ActiveJob:
    request_id: str
    scene_name: str
    root: str
    params: dict
    track_names: list[str]
    tracks_meta: list[dict]
    frame_start: int
    total: int
    strip_name: str = ""
    appended: int = 0
    state: str = "submitted"
    started: float = field(default_factory=time.monotonic)
    message: str = ""
    seed: int | None = None
    job_id: str = ""
    writer: BackgroundWriter | None = None
    framing: object = None                 # io.framing.Framing: reference → output pixels
    progress: JobProgress = field(default_factory=JobProgress)
    take: int = 0
    frame_size: tuple = (0, 0)
    cancel_requested: bool = False
    final: tuple[str, str] | None = None   # (state, message) once the server ended the job

    @property
    def appended_folder(self) -> str:
        return str(self.writer.folder) if self.writer is not None else "(no frames yet)"


@dataclass
class Preparing:
    """A job or plan on its way: the worker readies a pixel buffer, the timer copies the
    reference into it (one short call), the worker builds the job, the timer sends it."""
    future: object
    scene_name: str
    kind: str              # "submit" or "plan"
    frame_start: int = 0
    source: object = None  # io.prepare.JobSource
    limits: object = None
    stage: str = "buffer"  # "buffer" → "building", or "file" (read by a separate process)
    on_built: object = None  # submit: called with the built job on the main thread (takes), else submit()


@dataclass
class TickStats:
    calls: int = 0
    worst_s: float = 0.0
    worst_streaming_s: float = 0.0
    total_s: float = 0.0
    worst_by_event: dict = field(default_factory=dict)
    streaming_s: list = field(default_factory=list)   # each call that handled a frame (wall clock)
    streaming_cpu_s: list = field(default_factory=list)  # the same calls in this thread's CPU time


class Session:
    def __init__(self):
        self.client: io_client.Client | None = None
        self.server: LocalServer | None = None
        self.jobs: dict[str, ActiveJob] = {}       # job id → job (after `accepted`)
        self.pending: dict[str, ActiveJob] = {}    # submit request id → job (before `accepted`)
        self.plans: dict[str, dict] = {}        # scene name → plan_result body
        self.pending_plans: dict[str, str] = {}  # request id → scene name
        self.plan_framing: dict[str, object] = {}  # scene name → Framing of its last plan request
        self.stats = TickStats()
        self.scene_name = ""
        self.log: list[str] = []
        self.io_pool: ThreadPoolExecutor | None = None
        self.prep_pool: ThreadPoolExecutor | None = None
        self.reconnecting = False                # the client says hello again after a restart
        self.preparing: list[Preparing] = []     # jobs / plans being built in the worker

    def pool(self) -> ThreadPoolExecutor:
        """One disk thread: frames are written in arrival order, off Blender's main thread."""
        if self.io_pool is None:
            self.io_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackgo-frames")
        return self.io_pool

    def prep(self) -> ThreadPoolExecutor:
        """One worker builds jobs (resize, rasterise, encode) so Blender's main thread never does."""
        if self.prep_pool is None:
            self.prep_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackgo-prepare")
        return self.prep_pool

    def reset(self):
        if self.client is not None:
            self.client.close()
        self.client = None
        if self.server is not None:
            self.server.stop()
        self.server = None
        for job in list(self.jobs.values()):
            if job.writer is not None:
                job.writer.wait()
        if self.io_pool is not None:
            self.io_pool.shutdown(wait=True)
            self.io_pool = None
        for task in self.preparing:
            task.future.cancel()
        self.preparing.clear()
        if self.prep_pool is not None:
            self.prep_pool.shutdown(wait=False)
            self.prep_pool = None
        self.jobs.clear()
        self.pending.clear()
        self.plans.clear()
        self.pending_plans.clear()


SESSION = Session()


# ---- helpers that touch bpy -------------------------------------------------------------
def _settings(scene_name: str):
    scene = bpy.data.scenes.get(scene_name)
    return (scene, scene.trackgo) if scene is not None else (None, None)


def _tag_redraw():
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type in {"IMAGE_EDITOR", "SEQUENCE_EDITOR"}:
                area.tag_redraw()


def _status_bar(text: str | None):
    try:
        ws = bpy.context.workspace
        if ws is not None:
            ws.status_text_set(text)
    except (AttributeError, RuntimeError, TypeError):
        pass


def set_status(scene_name: str, status: str | None = None, error: str | None = None):
    scene, st = _settings(scene_name)
    if st is None:
        return
    if status is not None:
        st.status = status
    if error is not None:
        st.error = error
        if error:
            print(f"TrackGo: {error}")
            SESSION.log.append(error)


def output_root() -> tuple[str, str]:
    """Folder for frames: ``//trackgo`` beside the .blend, or a temp folder (with a warning)."""
    if bpy.data.filepath:
        return bpy.path.abspath("//trackgo"), ""
    root = os.path.join(tempfile.gettempdir(), "trackgo")
    return root, (f"The .blend file is not saved: frames go to the temporary folder {root}. "
                  f"Save the file to keep them beside it.")


def adopt_temp_frames(filepath: str = "") -> list[str]:
    """Called as the file is saved: takes whose frames sit in the temporary folder move to
    ``trackgo/`` beside the file (strips follow). A take still streaming stays where it is,
    and the panel says where. Returns the folders moved to."""
    blend = filepath or bpy.data.filepath
    if not blend:
        return []
    temp_root = os.path.join(tempfile.gettempdir(), "trackgo")
    new_root = os.path.join(os.path.dirname(os.path.abspath(blend)), "trackgo")
    running = {job.strip_name for job in _all_jobs() if job.strip_name}
    moved = []
    for scene in bpy.data.scenes:
        se = scene.sequence_editor
        if se is None:
            continue
        for strip in list(compat.all_strips(se)):
            if strips.PROP_JOB not in strip:
                continue
            if strip.name in running:
                if os.path.realpath(bpy.path.abspath(strip.directory)).startswith(os.path.realpath(temp_root)):
                    scene.trackgo.error = (f"{strip.name}: still streaming into {bpy.path.abspath(strip.directory)}; "
                                           f"save again when it is done to move its frames beside the file")
                continue
            try:
                target = strips.move_folder(strip, temp_root, new_root)
            except OSError as exc:
                scene.trackgo.error = f"{strip.name}: frames stay in {strip.directory} (could not move: {exc})"
                continue
            if target:
                moved.append(target)
    return moved


# ---- connection --------------------------------------------------------------------------
def connect(scene_name: str, context=None) -> None:
    prefs = preferences.get(context)
    if _all_jobs():  # a new socket would never hear of them: they would stay "running" forever
        raise ConnectionError(f"a TrackGo job is still running ({len(_all_jobs())}): cancel it or wait "
                              f"for it to end before connecting again")
    SESSION.scene_name = scene_name
    address = io_client.normalize_address(prefs.server_address)
    if not io_client.is_loopback(address) and not getattr(bpy.app, "online_access", True):
        raise ConnectionError(f"{address} is a remote server and Blender's online access is "
                              f"off: allow it in Preferences ▸ System ▸ Network, or use a local server")
    if SESSION.client is not None:
        SESSION.client.close()
    curve = io_client.curve_keys(prefs.server_public_key, prefs.client_public_key, prefs.client_secret_key)
    SESSION.client = io_client.Client(address, timeout_s=prefs.timeout, curve=curve)
    note = ""
    if prefs.start_local_server and (SESSION.server is None or SESSION.server.status().state in ("failed", "stopped")):
        address, moved = free_local_port(address)
        if moved:
            note = (f"port {prefs.server_address.rsplit(':', 1)[-1]} is in use: the local server runs on "
                    f"{address}")
            SESSION.client.close()
            SESSION.client = io_client.Client(address, timeout_s=prefs.timeout, curve=curve)
    if prefs.start_local_server:
        if SESSION.server is None or SESSION.server.status().state in ("failed", "stopped"):
            SESSION.server = LocalServer(bpy.path.abspath(prefs.server_python), address,
                                         backend=prefs.server_backend or None)
            SESSION.server.start()
            atexit.register(SESSION.server.stop)  # quitting Blender stops it too (stop is idempotent)
        set_status(scene_name, status="Starting the local server…" + (f" ({note})" if note else ""), error="")
    else:
        SESSION.client.connect()
        set_status(scene_name, status=f"Connecting to {address}…", error="")
    ensure_timer()


def _interrupt_jobs(why: str) -> None:
    """Frames already received still land (a user action may wait; the timer never does) and
    join their strip before the jobs end, so each strip shows exactly the files on disk."""
    for job in _all_jobs():
        job.final = ("interrupted", why + "; {frames} of {total} frames kept")
        if job.writer is not None:
            job.writer.wait()
    _collect_writes()
    for job in _all_jobs():  # a write still stuck after the wait
        _finish(job, *job.final)


def disconnect(scene_name: str) -> None:
    """Messages of the old connection go; what interrupting its jobs says is the last word."""
    for scene in bpy.data.scenes:
        if getattr(scene, "trackgo", None) is not None:
            scene.trackgo.error = ""
    _interrupt_jobs("disconnected before the job ended")
    SESSION.reset()
    _clear_scenes(error=False)


def _clear_scenes(error: bool) -> None:
    """No session, so no connection and no running job in any scene (and, on Disconnect or a
    newly opened file, no message from the old session)."""
    for scene in bpy.data.scenes:
        st = getattr(scene, "trackgo", None)
        if st is None:
            continue
        st.connected = st.busy = False
        st.status = "Not connected"
        if error:
            st.error = ""


def ensure_timer() -> None:
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=0.0, persistent=True)


# ---- jobs --------------------------------------------------------------------------------
def submit(scene_name: str, body: dict, payloads: list[bytes], track_names: list[str],
           tracks_meta: list[dict], frame_start: int, framing=None) -> ActiveJob:
    client = SESSION.client
    if client is None or not client.ready:
        raise ConnectionError("not connected to a TrackGo server: press Connect first"
                              + (f" ({client.reason})" if client is not None and client.reason else ""))
    request_id = client.submit(body, payloads)
    root, warning = output_root()
    scene = bpy.data.scenes[scene_name]
    params = dict(body.get("params", {}))
    job = ActiveJob(request_id=request_id, scene_name=scene_name, root=root, params=params,
                    track_names=track_names, tracks_meta=tracks_meta, frame_start=frame_start,
                    total=int(params.get("frames", 25)), seed=params.get("seed"), framing=framing)
    SESSION.pending[request_id] = job
    scene.sequence_editor_create()  # first-time set-up costs ~20 ms: here, not in the timer
    st = scene.trackgo
    st.busy = True
    st.progress = 0.0
    st.progress_text = "Submitted"
    st.error = warning
    st.status = "Job submitted"
    ensure_timer()
    return job


def prepare(scene_name: str, source, kind: str, frame_start: int = 0, on_built=None) -> None:
    """Check ``source`` at once (main thread, milliseconds), then build the job in the worker;
    :func:`tick` sends it when it is ready (through ``on_built(job)`` when given: the take hook).
    Raises for what the user must fix first."""
    client = SESSION.client
    if client is None or not client.ready:
        raise ConnectionError("not connected to a TrackGo server: press Connect first"
                              + (f" ({client.reason})" if client is not None and client.reason else ""))
    limits = client.limits
    io_prepare.precheck(source, limits)
    if source.pixels is None and source.reference_file is not None:  # no main-thread copy at all
        future, stage = SESSION.prep().submit(_prepare_from_file, source, limits, kind), "file"
    elif source.pixels is None:
        future = SESSION.prep().submit(io_prepare.pixel_buffer, source.width, source.height)
        stage = "buffer"
    else:
        future, stage = SESSION.prep().submit(_build, source, limits, kind), "building"
    SESSION.preparing.append(Preparing(future, scene_name, kind, frame_start, source, limits, stage, on_built))
    scene, st = _settings(scene_name)
    if kind == "submit" and st is not None:
        st.busy = True
        st.progress = 0.0
        st.progress_text = "Preparing the reference and masks…"
        st.error = output_root()[1]
    ensure_timer()


def _collect_prepared() -> None:
    """Jobs the worker finished are sent now (on the main thread, from the timer)."""
    for task in [t for t in SESSION.preparing if t.future.done()]:
        scene, st = _settings(task.scene_name)
        try:
            if task.stage == "buffer":
                _read_reference(task)
                return  # one pixel copy per timer call
            job = task.future.result()
            if job is None:  # the separate process could not read it: Blender reads it (one call)
                task.future = SESSION.prep().submit(io_prepare.pixel_buffer, task.source.width,
                                                    task.source.height)
                task.stage = "buffer"
                continue
            SESSION.preparing.remove(task)
            apply_timing(scene, job, task.limits)
            if task.kind == "plan":
                request_plan(task.scene_name, job.body, job.payloads, job.framing)
            elif task.on_built is not None:
                task.on_built(job)
            else:
                submit(task.scene_name, job.body, job.payloads, job.track_names, job.meta,
                       task.frame_start, job.framing)
        except Exception as exc:  # JobInputError, ConnectionError: the user's to fix, said in the panel
            if task in SESSION.preparing:
                SESSION.preparing.remove(task)
            if st is not None and task.kind == "submit":
                st.busy = bool(_all_jobs_of(task.scene_name) or _preparing_of(task.scene_name))
                st.progress_text = ""
            set_status(task.scene_name, error=str(exc) or type(exc).__name__)


def apply_timing(scene, job, limits) -> None:
    """Timing hook (issue 13): each keyed track's speed curve, one progress value per frame, read
    on the main thread as the job leaves; the plan shows the same spacing."""
    from . import timing
    from ..io.job import check
    if scene is not None and timing.apply_to_job(scene, job.body):
        check(job.body, job.payloads, limits)


def _build(src, limits, kind: str):
    """Worker: the job, and for a submitted one its take's payload encoding (see io.takes)."""
    job = io_prepare.prepare(src, limits)
    if kind == "submit":
        from ..io import takes as io_takes
        io_takes.encode_ahead(job.payloads)
    return job


def _prepare_from_file(src, limits, kind: str):
    """Worker: the reference read by a separate Blender process (``io.decode``), then the job;
    None when that process could not read it (the timer then copies it as for any image)."""
    from ..io import decode
    try:
        src.pixels = decode.read(src.reference_file)
    except (decode.DecodeError, OSError) as exc:
        print(f"TrackGo: {exc}; reading the reference in Blender instead")
        return None
    return _build(src, limits, kind)


def _read_reference(task: Preparing) -> None:
    """The one main-thread copy of the reference pixels, into the buffer the worker readied."""
    src = task.source
    buf = task.future.result()
    image = bpy.data.images.get(src.image_name)
    if image is None or tuple(image.size) != (src.width, src.height):
        raise ValueError(f"Reference: image {src.image_name!r} changed or was removed while the job "
                         f"was being prepared; press Generate again")
    image.pixels.foreach_get(buf)
    src.pixels = buf
    task.future = SESSION.prep().submit(_build, src, task.limits, task.kind)
    task.stage = "building"


def _all_jobs_of(scene_name: str) -> list:
    return [j for j in _all_jobs() if j.scene_name == scene_name]


def _preparing_of(scene_name: str) -> list:
    return [t for t in SESSION.preparing if t.scene_name == scene_name and t.kind == "submit"]


def cancel(scene_name: str) -> int:
    """Ask the server to cancel this scene's running jobs (a job still being prepared is simply
    dropped: nothing was sent); returns how many."""
    n = 0
    for task in _preparing_of(scene_name):
        task.future.cancel()
        SESSION.preparing.remove(task)
        n += 1
    if n:
        scene, st = _settings(scene_name)
        if st is not None:
            st.busy = is_busy(scene_name)
            st.progress_text = "Cancelled before it was sent"
    for job in _all_jobs():
        if job.scene_name == scene_name and job.state in ("submitted", "queued", "running"):
            if job.job_id:
                SESSION.client.cancel(job.job_id)
            job.cancel_requested = True  # sent as soon as the job id is known
            job.state = "cancelling"
            n += 1
    return n


def _all_jobs() -> list[ActiveJob]:
    return list(SESSION.pending.values()) + list(SESSION.jobs.values())


def request_plan(scene_name: str, body: dict, payloads: list[bytes], framing=None) -> str:
    client = SESSION.client
    if client is None or not client.ready:
        raise ConnectionError("not connected to a TrackGo server: press Connect first")
    req = client.plan(body, payloads)
    SESSION.pending_plans[req] = scene_name
    SESSION.plan_framing[scene_name] = framing
    ensure_timer()
    return req


def _strip(job: ActiveJob):
    scene = bpy.data.scenes.get(job.scene_name)
    return strips.find(scene, job.strip_name) if scene is not None and job.strip_name else None


TAKE_RE = re.compile(r"^take_(\d+)$")


def take_folder(take: int) -> str:
    return f"take_{take:03d}"


def _next_take(root: str, shot: str) -> int:
    """Strips and folders are named after the shot and a take number: one more than any take
    of this shot on disk or in this session."""
    from ..io.frames import safe_name
    used = [job.take for job in _all_jobs() if job.scene_name == shot]
    try:
        used += [int(m.group(1)) for name in os.listdir(os.path.join(root, safe_name(shot, "shot")))
                 if (m := TAKE_RE.match(name))]
    except OSError:
        pass
    return max(used, default=0) + 1


def _create_strip(job: ActiveJob, width: int, height: int):
    """The strip, made just *before* frame 1 is written.

    ``new_image`` reads an existing file to size the strip (~20 ms at 512x512, a stall in the
    timer); on a path that does not exist yet it costs ~0.1 ms, and Blender reads the frame
    when it first draws it. The fit to the render size is then set here from the frame size."""
    scene = bpy.data.scenes.get(job.scene_name)
    if scene is None:
        return None
    path = str(job.writer.path_for(0))
    if bpy.data.filepath:
        path = bpy.path.relpath(path)
    strip = strips.create(scene, f"{job.scene_name} take {job.take}", path, job.frame_start, job.total)
    strips.fit_to_render(strip, scene, width, height, job.framing)
    strips.store_job(strip, job.job_id, job.params, job.seed, job.tracks_meta, "streaming")
    job.strip_name = strip.name
    job.frame_size = (width, height)
    from . import takes
    takes.on_strip(job, strip)  # take hook: tag the strip with its take
    return strip


_TIMER_CALL = {"active": False}


def _undo_push(message: str) -> None:
    """The finished strip is an undo step of its own: one Ctrl+Z removes the take, and only it."""
    try:
        bpy.ops.ed.undo_push(message=message)
    except (RuntimeError, AttributeError):  # no undo in this context (e.g. while quitting)
        pass


def _grow_strip(job: ActiveJob) -> None:
    """Show every contiguous frame on disk (the strip starts with frame 1).

    Undo while a job runs: Ctrl+Z may take the strip back to an earlier state (fewer frames) or
    remove it (back to before Generate). The job goes on, so the strip is brought back in step
    with the files on disk: re-made if it is gone, grown from the frames it still shows."""
    if job.writer is None or not job.strip_name:
        return
    ready = job.writer.contiguous_count()
    strip = _strip(job)
    if strip is None:
        if ready == 0:
            return
        strip = _create_strip(job, *job.frame_size)
        if strip is None:
            return
    for index in range(len(strip.elements), ready):
        strips.append(strip, str(job.writer.path_for(index)))
    if ready:
        job.appended = ready


def _show_progress(job: ActiveJob) -> None:
    """The job's one progress, in the panel, Blender's status bar and on its strip."""
    scene, st = _settings(job.scene_name)
    p = job.progress
    if st is not None:
        st.progress = p.value
        st.progress_text = p.text
    _status_bar(f"TrackGo: {p.text}")
    strip = _strip(job)
    if strip is not None:
        strip[strips.PROP_PROGRESS] = p.text


def _finish(job: ActiveJob, state: str, message: str) -> None:
    # Placeholders filled now that every frame is on disk (replace, not format: server text
    # may hold braces).
    for key, value in (("{frames}", job.appended), ("{total}", job.total), ("{seed}", job.seed),
                       ("{secs:.1f}", f"{time.monotonic() - job.started:.1f}")):
        message = message.replace(key, str(value))
    job.state, job.message = state, message
    SESSION.jobs.pop(job.job_id, None)
    SESSION.pending.pop(job.request_id, None)
    strip = _strip(job)
    if strip is not None:
        strips.store_job(strip, job.job_id, job.params, job.seed, job.tracks_meta, state)
        if strips.PROP_PROGRESS in strip:
            del strip[strips.PROP_PROGRESS]  # done: the strip's state says the rest
        if _TIMER_CALL["active"]:  # not from inside another operator (Disconnect, file load)
            _undo_push(f"TrackGo: {strip.name} ({state})")
    from . import takes
    takes.on_finish(job, state)  # take hook: state, frames, seed
    scene, st = _settings(job.scene_name)
    if st is None:
        return
    st.busy = any(j.scene_name == job.scene_name for j in _all_jobs())
    if job.strip_name:
        st.last_strip = job.strip_name
    if state == "done":
        st.progress = 1.0
        st.progress_text = f"Done: {job.appended} frames"
        st.status = message
    elif state == "cancelled" and job.cancel_requested:  # what the user asked for: no red error
        st.progress_text = f"Cancelled: {job.appended} of {job.total} frames kept"
        st.status = message
        st.error = ""  # earlier messages were about the job now ended
    else:
        st.progress_text = f"{state.capitalize()}: {job.appended} of {job.total} frames kept"
        st.error = message
        st.status = f"Job {state}"
        print(f"TrackGo: {message}")
        SESSION.log.append(message)
    _status_bar(None)


def _handle(ev) -> None:
    if ev.kind == "connected":
        properties.set_frames_max(SESSION.client.limits.max_frames)
        scene, st = _settings(SESSION.scene_name)
        if st is not None:
            st.connected = True
            st.status = ev.message
            if not SESSION.reconnecting:  # after a restart, what it did to the jobs stays said
                st.error = ""
        SESSION.reconnecting = False
        return
    if ev.kind == "connect_failed":
        scene, st = _settings(SESSION.scene_name)
        if st is not None:
            st.connected = False
            st.status = "Not connected"
        set_status(SESSION.scene_name, error=ev.message)
        return
    if ev.kind == "server_lost":
        scene, st = _settings(SESSION.scene_name)
        if st is not None:
            st.connected = False
            st.status = "Server lost"
        jobs = _all_jobs()
        for job in jobs:
            job.final = ("failed", f"{ev.message}; {{frames}} of {{total}} frames were received "
                                   f"and kept in {job.appended_folder}")
        if not jobs:
            set_status(SESSION.scene_name, error=ev.message)
        return
    if ev.kind == "server_restarted":
        # Another server process answers: the old one's jobs are gone. The client says hello again;
        # each job ends "interrupted" and its strip says why (protocol.md, "Server instance").
        for job in _all_jobs():
            job.final = ("interrupted", "the server restarted; {frames} of {total} frames kept")
        SESSION.reconnecting = True
        set_status(SESSION.scene_name, status="The server restarted; reconnecting…")
        return
    if ev.kind == "plan_result":
        scene_name = SESSION.pending_plans.pop(ev.re, SESSION.scene_name)
        SESSION.plans[scene_name] = ev.body
        set_status(scene_name, status="Points preview ready")
        return
    if ev.kind in ("rejected", "error") and ev.re in SESSION.pending_plans:
        scene_name = SESSION.pending_plans.pop(ev.re)
        err = ev.body.get("error", ev.body) if ev.kind == "rejected" else ev.body
        set_status(scene_name, error=f"Points preview refused: {io_client.describe_error(err)}")
        return
    if ev.re in SESSION.pending and ev.kind in ("accepted", "rejected", "error"):
        job = SESSION.pending[ev.re]
        if ev.kind == "accepted" and ev.job:
            SESSION.pending.pop(ev.re)
            job.job_id = ev.job
            job.take = _next_take(job.root, job.scene_name)
            job.writer = BackgroundWriter(FrameWriter(job.root, job.scene_name, take_folder(job.take)), SESSION.pool())
            SESSION.jobs[ev.job] = job
            if job.cancel_requested:
                SESSION.client.cancel(ev.job)
    else:
        job = SESSION.jobs.get(ev.job) if ev.job else None
    if job is None:
        return
    scene, st = _settings(job.scene_name)
    if ev.kind == "accepted":
        job.state = "queued" if not job.cancel_requested else job.state
        if job.progress.queued(ev.body.get("queue_position", 0)):
            _show_progress(job)
    elif ev.kind == "progress":
        job.state = "running" if job.state != "cancelling" else job.state
        b = ev.body
        if job.progress.stage(str(b.get("stage", "")), int(b.get("step", 0) or 0), int(b.get("total", 0) or 0),
                              b.get("eta_s")):
            _show_progress(job)
    elif ev.kind == "frame":
        index, total = int(ev.body.get("index", -1)), int(ev.body.get("total", job.total))
        job.total = total
        size = (int(ev.body.get("width", 0)), int(ev.body.get("height", 0)))
        try:
            check_png(ev.payload or b"", *size)
        except ValueError as exc:
            set_status(job.scene_name, error=f"frame {index + 1}: not written ({exc})")
            return
        if index == 0 and _strip(job) is None:
            _create_strip(job, *size)  # strictly before the file can land: see _create_strip
        job.writer.submit(index, ev.payload, size)  # written on the disk thread
    elif ev.kind == "done":
        job.seed = ev.body.get("seed", job.seed)
        job.params = dict(ev.body.get("params", job.params))
        job.final = ("done", "Done: {frames} frames in {secs:.1f} s (seed {seed})")
    elif ev.kind == "rejected":
        err = ev.body.get("error", {})
        job.final = ("rejected", f"Job rejected: {io_client.describe_error(err, job.track_names)}")
    elif ev.kind == "error":
        job.final = ("failed", f"Job failed: {io_client.describe_error(ev.body, job.track_names)}; "
                               "{frames} frames kept")
    elif ev.kind == "cancelled":
        job.final = ("cancelled", "Job cancelled: {frames} of {total} frames kept")


def _collect_writes() -> None:
    """Frames that reached the disk join their strip; a job the server ended is closed once
    its last frame is written, so the strip always matches the files."""
    for job in _all_jobs():
        if job.writer is not None:
            for index, exc in job.writer.collect():
                if exc is not None:
                    set_status(job.scene_name, error=f"frame {index + 1}: not written ({exc})")
            _grow_strip(job)
            if job.final is None and job.appended and job.progress.frames(job.appended, job.total):
                _show_progress(job)
        if job.final is not None and (job.writer is None or not job.writer.busy):
            if job.appended == 0:
                _drop_empty_strip(job)
            _finish(job, *job.final)


def _drop_empty_strip(job: ActiveJob) -> None:
    """A strip made for frame 1 whose write failed would point at nothing: remove it."""
    strip = _strip(job)
    if strip is not None and job.writer is not None and job.writer.contiguous_count() == 0:
        strips.remove(bpy.data.scenes[job.scene_name], strip)
        job.strip_name = ""


def backend_params(backend: str = "") -> set[str] | None:
    """The job parameters the chosen backend (or the server's default) honours, from the
    server's ``welcome.backends[].params``; None (show everything) when the server does not say."""
    client = SESSION.client
    welcome = client.welcome if client is not None else {}
    name = backend or welcome.get("default_backend")
    for entry in welcome.get("backends") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            params = entry.get("params")
            return set(params) if isinstance(params, list) else None
    return None


def is_connected() -> bool:
    return SESSION.client is not None and SESSION.client.ready


def is_busy(scene_name: str) -> bool:
    return bool(_all_jobs_of(scene_name) or _preparing_of(scene_name))


def _sync_live_state() -> None:
    """The scene's status fields follow the session, whatever undo, a reload or a reopened file
    put back into them: busy while a job of the scene runs, connected while the socket is."""
    connected = is_connected()
    for scene in bpy.data.scenes:
        st = getattr(scene, "trackgo", None)
        if st is None:
            continue
        busy = is_busy(scene.name)
        if st.busy != busy:
            st.busy = busy
        if st.connected != connected:
            st.connected = connected


def _local_server_step() -> None:
    srv = SESSION.server
    if srv is None or SESSION.client is None or SESSION.client.state != "idle":
        return
    st = srv.status()
    if st.state == "ready":
        SESSION.client.connect()
        set_status(SESSION.scene_name, status=st.message)
    elif st.state == "failed":
        set_status(SESSION.scene_name, status="Not connected", error=st.message)
        SESSION.client.state = "failed"
        SESSION.client.reason = st.message


def tick(budget_s: float = TICK_BUDGET_S):
    """The timer callback. Returns the delay before the next call, or None to stop."""
    t0, c0 = time.perf_counter(), time.thread_time()
    streaming = False
    _TIMER_CALL["active"] = True
    try:
        _local_server_step()
        _collect_prepared()
        _collect_writes()
        client = SESSION.client
        if client is None:
            return None
        while True:
            events = client.poll(budget_s=budget_s, max_messages=1)
            for ev in events:
                streaming = streaming or ev.kind == "frame"
                t_ev = time.perf_counter()
                _handle(ev)
                worst = SESSION.stats.worst_by_event
                worst[ev.kind] = max(worst.get(ev.kind, 0.0), time.perf_counter() - t_ev)
            # One frame (file write + strip growth) per call keeps each call short.
            if not events or events[-1].kind == "frame" or time.perf_counter() - t0 > budget_s:
                break
        _collect_writes()
        _sync_live_state()
        if SESSION.jobs or SESSION.pending or events:
            _tag_redraw()
        more = bool(events)
    except Exception as exc:  # a bug must not kill the timer silently or raise into Blender
        set_status(SESSION.scene_name, error=f"internal error in the TrackGo timer: {type(exc).__name__}: {exc}")
        more = False
    finally:
        _TIMER_CALL["active"] = False
        dt = time.perf_counter() - t0
        s = SESSION.stats
        s.calls += 1
        s.total_s += dt
        s.worst_s = max(s.worst_s, dt)
        if streaming:
            s.worst_streaming_s = max(s.worst_streaming_s, dt)
            if len(s.streaming_s) < 100000:
                s.streaming_s.append(dt)
                s.streaming_cpu_s.append(time.thread_time() - c0)
    client = SESSION.client
    if client is None or client.state in ("failed", "lost", "closed"):
        return ACTIVE_INTERVAL_S if _all_jobs() else None  # finish writing what arrived
    if more:
        return 0.0
    waiting = (SESSION.jobs or SESSION.pending or SESSION.pending_plans or SESSION.preparing
               or client.state != "ready")
    return ACTIVE_INTERVAL_S if waiting else IDLE_INTERVAL_S


def shutdown() -> None:
    """On quit / unregister: stop the timer, close the socket, stop a local server."""
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    _interrupt_jobs("the add-on was stopped (disabled, reloaded or another file opened) before the job ended")
    SESSION.reset()
    from ..io import decode
    decode.forget()  # the last big reference read by the separate process, and any read under way
    try:
        _clear_scenes(error=False)
    except (AttributeError, RuntimeError):  # bpy.data is read-only while a file loads
        pass
