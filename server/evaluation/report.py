"""The results table, laid out like the paper's Table 1 (one row per model), as Markdown and CSV."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

COLUMNS = (("fvd", "FVD ↓"), ("fid", "FID ↓"), ("objmc", "ObjMC ↓"))


@dataclass
class ModelResult:
    model: str
    clips: int
    metrics: dict[str, float] = field(default_factory=dict)     # keys from COLUMNS; absent = not run


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def to_markdown(results: list[ModelResult], dataset: str) -> str:
    head = ["Method", *[f"{label}" for _, label in COLUMNS], "Clips"]
    lines = [f"Evaluated on {dataset}", "", "| " + " | ".join(head) + " |",
             "| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |"]
    for r in results:
        cells = [r.model, *[_cell(r.metrics.get(key)) for key, _ in COLUMNS], str(r.clips)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(results: list[ModelResult], dataset: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["dataset", "method", *[key for key, _ in COLUMNS], "clips"])
    for r in results:
        writer.writerow([dataset, r.model, *["" if r.metrics.get(k) is None else f"{r.metrics[k]:.6f}"
                                             for k, _ in COLUMNS], r.clips])
    return buf.getvalue()
