"""Write DataFrames to CSV and Parquet files that other tools can read back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

FORMATS = ("csv", "parquet")


def export_frames(
    frames: Mapping[str, pd.DataFrame],
    directory: str | Path,
    *,
    formats: Iterable[str] = FORMATS,
) -> list[Path]:
    """Write each frame as `<name>.csv` and `<name>.parquet` under `directory`; the paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, frame in frames.items():
        flat = flatten_for_files(frame)
        for kind in formats:
            path = folder / f"{name}.{kind}"
            if kind == "csv":
                flat.to_csv(path, index=_has_named_index(flat))
            elif kind == "parquet":
                flat.to_parquet(path, engine="pyarrow")
            else:
                raise ValueError(f"unknown export format '{kind}'; use one of {FORMATS}")
            written.append(path)
    return written


def flatten_for_files(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with nested or mixed values (lists, objects) turned into JSON text."""
    flat = frame.copy()
    for name in flat.columns:
        values = flat[name]
        if values.dtype == object and not all(isinstance(v, str) for v in values.dropna()):
            flat[name] = values.map(_as_text, na_action="ignore").astype("string")
    return flat


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def _has_named_index(frame: pd.DataFrame) -> bool:
    """Only a meaningful index (like `hour`) is worth a CSV column."""
    return frame.index.name is not None
