"""Read a workload's source into items: what each request (or each picture) starts from.

Four kinds (bench/schema/scenario_workload.py): a folder or glob of images, a JSONL file
of OpenAI chat requests, a dataset saved locally (Parquet, or `datasets` on disk) and a
trace (JSONL with arrival times). Nothing is fetched: every path is local, read once,
bounded in size, and a bad line or value is one UserError naming the file, line and field.
"""

from __future__ import annotations

import base64
import binascii
import glob
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.schema.scenario_workload import (
    DatasetSource,
    ImagesSource,
    RequestsSource,
    TraceSource,
)
from bench.workload.media import IMAGE_SUFFIXES, MAX_IMAGE_BYTES, read_bytes

MAX_LINES = 1_000_000  # lines of a requests file or a trace
MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024  # a JSONL or Parquet source


@dataclass(frozen=True)
class SizeOnly:
    """An image a trace describes by its size alone: a seeded picture of that size is sent."""

    width: int
    height: int


@dataclass
class Item:
    """One request's starting point: its text (or a prompt length in tokens), its images
    (encoded bytes, or a size to draw), its output length and its arrival time."""

    text: str | None = None
    prompt_tokens: int | None = None
    images: list[bytes | SizeOnly] = field(default_factory=list)
    output_tokens: int | None = None
    arrival_s: float | None = None


def resolve(path: str, base: Path) -> Path:
    """A source path as written in the scenario, relative to the scenario's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def image_files(source: ImagesSource, base: Path) -> list[Path]:
    """Every JPEG, PNG or WebP of a folder (sorted), or the files a glob matches."""
    where = resolve(source.path, base)
    if where.is_dir():
        found = [p for p in where.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        found = [Path(p) for p in glob.glob(str(where), recursive=True)]
        found = [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES]
    files = sorted(p for p in found if p.is_file())
    if not files:
        raise UserError(
            f"workload.source.path {source.path}: no JPEG, PNG or WebP images found "
            f"(looked in {where})"
        )
    return files


def load_items(source: Any, base: Path) -> list[Item]:
    """The items of a requests file, a dataset or a trace (not of an images folder)."""
    if isinstance(source, RequestsSource):
        return _requests(resolve(source.path, base))
    if isinstance(source, DatasetSource):
        return _dataset(source, resolve(source.path, base))
    if isinstance(source, TraceSource):
        return _trace(source, resolve(source.path, base))
    raise TypeError(f"not an item source: {source!r}")


def _lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of a JSONL file; UserError naming the line otherwise."""
    try:
        if not path.is_file():
            raise UserError(f"workload.source.path {path}: not a regular file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UserError(f"workload.source.path {path}: larger than 2 GiB")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    out: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(out) >= MAX_LINES:
            raise UserError(f"{path}: more than {MAX_LINES:,} lines")
        try:
            obj = json.loads(line, parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            raise UserError(f"{path}:{number}: not a JSON object ({exc})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
        out.append((number, obj))
    if not out:
        raise UserError(f"{path}: no requests in it")
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _requests(path: Path) -> list[Item]:
    items = []
    for number, body in _lines(path):
        where = f"{path}:{number}"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise UserError(f"{where}: messages: expected a list of chat messages")
        texts: list[str] = []
        images: list[bytes | SizeOnly] = []
        for m_index, message in enumerate(messages):
            _message_parts(message, f"{where}: messages[{m_index}]", path.parent, texts, images)
        out = body.get("max_tokens", body.get("max_completion_tokens"))
        items.append(Item("\n".join(texts), None, images, _count(out, f"{where}: max_tokens")))
    return items


def _message_parts(
    message: Any, where: str, base: Path, texts: list[str], images: list[bytes | SizeOnly]
) -> None:
    if not isinstance(message, dict):
        raise UserError(f"{where}: expected an object with role and content")
    content = message.get("content")
    if isinstance(content, str):
        texts.append(content)
        return
    if not isinstance(content, list):
        raise UserError(f"{where}.content: expected text or a list of parts")
    for p_index, part in enumerate(content):
        at = f"{where}.content[{p_index}]"
        if not isinstance(part, dict):
            raise UserError(f"{at}: expected an object")
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if not isinstance(url, str):
                raise UserError(f"{at}.image_url.url: expected a string")
            images.append(image_ref(url, base, at))
        else:
            raise UserError(f"{at}: expected a text or image_url part")


def image_ref(ref: str, base: Path, where: str) -> bytes:
    """An image given as a data URL, bare base64 or a local path (relative to `base`)."""
    if ref.startswith("data:"):
        _, _, ref = ref.partition(",")
        return _b64(ref, where)
    if "://" in ref:
        raise UserError(f"{where}: {ref[:60]}: only local images (a path, data URL or base64)")
    path = resolve(ref, base) if len(ref) < 4096 else None
    if path is None or not path.exists():  # no such file: base64 without a header?
        data = _maybe_b64(ref)
        if data is not None:
            return data
        if path is None:
            raise UserError(f"{where}: neither a file nor base64 image data")
    return read_bytes(path, where)


# The first bytes of the formats a server reads: PNG, JPEG, GIF, WebP (RIFF), BMP.
_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM")


def _maybe_b64(text: str) -> bytes | None:
    """The bytes of `text` when it is base64 of an image, else None."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith(_MAGIC) else None


def _b64(text: str, where: str) -> bytes:
    if len(text) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise UserError(f"{where}: image larger than {MAX_IMAGE_BYTES >> 20} MiB")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UserError(f"{where}: invalid base64 image data") from None


def _count(value: Any, where: str, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise UserError(f"{where}: expected a whole number from 1 to 1,000,000, got {value!r}")
    return value


def _dataset(source: DatasetSource, path: Path) -> list[Item]:
    """Rows of a Parquet file, or of a `datasets` folder saved with save_to_disk."""
    rows = _dataset_rows(path)
    items = []
    for index, row in enumerate(rows):
        where = f"{path} row {index}"
        if source.image_column not in row:
            raise UserError(
                f"{path}: no column {source.image_column!r} (workload.source.image_column)"
            )
        text = None
        if source.text_column is not None:
            if source.text_column not in row:
                raise UserError(
                    f"{path}: no column {source.text_column!r} (workload.source.text_column)"
                )
            text = row[source.text_column]
            if not isinstance(text, str):
                raise UserError(f"{where}: {source.text_column}: expected text")
        value = row[source.image_column]
        values = value if isinstance(value, list) else [value]
        images = [_dataset_image(v, path.parent, f"{where}: {source.image_column}") for v in values]
        items.append(Item(text, None, list(images)))
    if not items:
        raise UserError(f"{path}: the dataset has no rows")
    return items


def _dataset_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq  # heavy; only a dataset source needs it

    try:
        if path.is_dir():
            files = sorted(path.glob("*.arrow")) or sorted(path.glob("**/*.parquet"))
            if not files:
                raise UserError(
                    f"{path}: no .arrow or .parquet files (a datasets save_to_disk folder?)"
                )
            return [row for f in files for row in _table(f).to_pylist()]
        if not path.is_file():
            raise UserError(f"workload.source.path {path}: no such file or folder")
        return pq.read_table(path).to_pylist()
    except UserError:
        raise
    except Exception as exc:  # pyarrow's errors have no common base the user can act on
        raise UserError(f"{path}: cannot read the dataset ({type(exc).__name__}: {exc})") from None


def _table(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        return pq.read_table(path)
    with pa.memory_map(str(path)) as source:  # datasets' arrow files are IPC streams
        return pa.ipc.open_stream(source).read_all()


def _dataset_image(value: Any, base: Path, where: str) -> bytes:
    """An image cell: bytes, {bytes, path} (the `datasets` Image feature), or text."""
    if isinstance(value, dict):
        if isinstance(value.get("bytes"), bytes | bytearray):
            return bytes(value["bytes"])
        value = value.get("path")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value:
        return image_ref(value, base, where)
    raise UserError(f"{where}: expected image bytes, a path or a data URL")


def _trace(source: TraceSource, path: Path) -> list[Item]:
    items: list[Item] = []
    for number, line in _lines(path):
        where = f"{path}:{number}"
        stamp = _timestamp(line.get("timestamp"), f"{where}: timestamp")
        prompt = line.get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise UserError(f"{where}: prompt: expected text")
        tokens = _count(line.get("prompt_tokens"), f"{where}: prompt_tokens")
        if prompt is None and tokens is None:
            raise UserError(f"{where}: give prompt (text) or prompt_tokens")
        out = _count(line.get("output_tokens"), f"{where}: output_tokens", allow_none=False)
        raw = line.get("images", [])
        if not isinstance(raw, list):
            raise UserError(f"{where}: images: expected a list of paths or {{width, height}}")
        images = [_trace_image(x, path.parent, f"{where}: images[{i}]") for i, x in enumerate(raw)]
        items.append(Item(prompt, tokens, images, out, stamp))
    items.sort(key=lambda x: x.arrival_s or 0.0)
    first = items[0].arrival_s or 0.0
    for item in items:
        item.arrival_s = ((item.arrival_s or 0.0) - first) * source.time_scale
    return items


def _timestamp(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return float(value)
    elif isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise UserError(f"{where}: expected seconds (a number >= 0) or an ISO 8601 time, got {value!r}")


def _trace_image(value: Any, base: Path, where: str) -> bytes | SizeOnly:
    if isinstance(value, dict):
        w, h = value.get("width"), value.get("height")
        _count(w, f"{where}.width", allow_none=False)
        _count(h, f"{where}.height", allow_none=False)
        if w > 16_384 or h > 16_384:  # type: ignore[operator]
            raise UserError(f"{where}: at most 16,384 pixels a side")
        return SizeOnly(int(w), int(h))  # type: ignore[arg-type]
    if isinstance(value, str):
        return image_ref(value, base, where)
    raise UserError(f"{where}: expected a path, a data URL or {{width, height}}")
