"""Cost of the wire protocol itself, in process (no socket): codec and job validation.

Prints name=value lines. Ratios are measured side by side in this run:
  frame_codec_vs_copy_ratio  encode + decode of a frame message / one plain copy of its payload
                             (decode copies each payload once, so ~1 means the header work is noise)
  png_mask_vs_raw_bytes_ratio  size of a 1024x576 mask sent as PNG / sent raw
Run: PYTHONPATH=. .venvs/server/bin/python benchmarks/protocol_codec.py
"""

import os
import random
import statistics
import time

import shared_protocol as sp

WIDTH, HEIGHT, FRAMES, TRACKS = 1024, 576, 25, 6


def median_seconds(action, repeats: int = 7) -> float:
    action()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def rect_mask(index: int) -> bytes:
    rows = []
    x0, y0 = 60 + index * 150, 100 + index * 40
    for y in range(HEIGHT):
        inside = y0 <= y < y0 + 120
        rows.append(bytes(x0) + (b"\xff" * 120 if inside else bytes(120)) + bytes(WIDTH - x0 - 120))
    return b"".join(rows)


def main() -> None:
    rng = random.Random(0)
    # a frame payload the size of a level-1 PNG of a 1024x576 frame (~0.78 MB, NOTES.md section 6)
    frame_png = rng.randbytes(780_000)
    frame = sp.make_frame("job", 3, 0, FRAMES, frame_png, WIDTH, HEIGHT)
    copy_s = median_seconds(lambda: memoryview(frame_png).tobytes(), 51)
    codec_s = median_seconds(lambda: sp.decode(sp.encode(frame)), 51)

    def stream():
        for index in range(FRAMES):
            sp.decode(sp.encode(sp.make_frame("job", index + 1, index, FRAMES, frame_png, WIDTH, HEIGHT)))

    stream_s = median_seconds(stream)

    reference_raw = rng.randbytes(WIDTH * HEIGHT * 3)
    masks_raw = [rect_mask(i) for i in range(TRACKS)]
    masks_png = [sp.encode_png(m, WIDTH, HEIGHT, 1) for m in masks_raw]
    reference_png = sp.encode_png(reference_raw, WIDTH, HEIGHT, 3, level=1)
    arrow = [[100.0, 100.0], [300.0, 150.0], [500.0, 120.0]]
    limits = sp.Limits(max_message_bytes=256 * 1024 * 1024)

    def submit(reference, masks):
        return sp.make_submit(reference, [sp.track(mask, arrow) for mask in masks], {"frames": FRAMES})

    png_submit = submit(sp.png_image(reference_png), [sp.png_image(m) for m in masks_png])
    raw_submit = submit(sp.raw_image(reference_raw, WIDTH, HEIGHT, 3),
                        [sp.raw_image(m, WIDTH, HEIGHT, 1) for m in masks_raw])

    def receive(msg):
        frames = sp.encode(msg)
        decoded = sp.decode(frames, limits)
        return sp.validate_job(decoded.body, decoded.payloads, limits)

    png_job_s = median_seconds(lambda: receive(png_submit))
    raw_job_s = median_seconds(lambda: receive(raw_submit))
    encode_mask_s = median_seconds(lambda: sp.encode_png(masks_raw[0], WIDTH, HEIGHT, 1))

    print(f"cpu_count={os.cpu_count()}")
    print(f"frame_payload_bytes={len(frame_png)}")
    print(f"frame_copy_ms={copy_s * 1e3:.3f}")
    print(f"frame_codec_ms={codec_s * 1e3:.3f}")
    print(f"frame_codec_vs_copy_ratio={codec_s / copy_s:.2f}")
    print(f"stream_{FRAMES}_frames_codec_ms={stream_s * 1e3:.2f}")
    print(f"stream_frames_per_second={FRAMES / stream_s:.0f}")
    print(f"submit_png_{TRACKS}_masks_bytes={sum(map(len, sp.encode(png_submit)))}")
    print(f"submit_raw_{TRACKS}_masks_bytes={sum(map(len, sp.encode(raw_submit)))}")
    print(f"png_mask_vs_raw_bytes_ratio={len(masks_png[0]) / len(masks_raw[0]):.4f}")
    print(f"submit_png_decode_validate_ms={png_job_s * 1e3:.2f}")
    print(f"submit_raw_decode_validate_ms={raw_job_s * 1e3:.2f}")
    print(f"encode_png_mask_ms={encode_mask_s * 1e3:.2f}")


if __name__ == "__main__":
    main()
