"""Readers for `riskops ingest`: JSONL, CSV and Parquet files, row by row with line numbers,
and byte progress. A row that cannot be read (invalid JSON, invalid UTF-8, a truncated last
line, a short CSV row) is yielded as a :class:`BadRow`, never dropped silently."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from riskops.errors import Problem, ValidationFailed
from riskops.services.preparing import RawJson


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    data: Any


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    problems: list[Problem]
    raw: str


def detect_format(path: Path, explicit: str | None) -> str:
    fmt = (explicit or path.suffix.lstrip(".")).lower()
    fmt = {"ndjson": "jsonl", "json": "jsonl", "pq": "parquet"}.get(fmt, fmt)
    if fmt not in ("jsonl", "csv", "parquet"):
        raise ValidationFailed(
            "unknown file format",
            [Problem("format", f"{path.name}: use .jsonl, .csv or .parquet, or --format")],
        )
    return fmt


class FileSource:
    """Iterates a file's rows; ``position`` / ``size`` give progress in bytes (rows for
    Parquet)."""

    def __init__(self, path: Path, fmt: str, csv_delimiter: str = ",") -> None:
        if not path.exists():
            raise ValidationFailed("file not found", [Problem("file", f"{path} does not exist")])
        if not path.is_file():
            raise ValidationFailed("not a file", [Problem("file", f"{path} is not a file")])
        self.path = path
        self.fmt = fmt
        self.delimiter = csv_delimiter
        self.position = 0
        self.size = path.stat().st_size if fmt != "parquet" else self._parquet_rows()

    def _parquet_rows(self) -> int:
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(self.path).metadata.num_rows)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise ValidationFailed(
                "cannot read the Parquet file", [Problem("file", f"{self.path.name}: {exc}")]
            ) from None

    def __iter__(self) -> Iterator[Row | BadRow]:
        if self.fmt == "jsonl":
            return self._jsonl()
        if self.fmt == "csv":
            return self._csv()
        return self._parquet()

    def raw_lines(self) -> Iterator[Row]:
        """JSONL lines undecoded (``Row.data`` is a :class:`RawJson`): decoding and its
        errors happen where the row is prepared, e.g. in a worker process."""
        with self.path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                self.position += len(line)
                text = line.strip()
                if text:
                    yield Row(number, RawJson(text, line.endswith(b"\n")))

    def _jsonl(self) -> Iterator[Row | BadRow]:
        with self.path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                self.position += len(line)
                text = line.strip()
                if not text:
                    continue
                complete = line.endswith(b"\n")
                try:
                    yield Row(number, orjson.loads(text))
                except orjson.JSONDecodeError as exc:
                    reason = (
                        "truncated last line (no newline, incomplete JSON)"
                        if not complete
                        else f"invalid JSON: {exc.msg} at column {exc.colno}"
                    )
                    if "utf-8" in str(exc).lower():
                        reason = "invalid UTF-8"
                    yield BadRow(
                        number, [Problem("line", reason)], text[:500].decode("utf-8", "replace")
                    )

    def _csv(self) -> Iterator[Row | BadRow]:
        bad_utf8: set[int] = set()
        state = {"last_line": 0, "unterminated": False}
        quotes = [0]  # quote characters read since the last row was yielded

        def lines() -> Iterator[str]:
            with self.path.open("rb") as fh:
                for number, line in enumerate(fh, start=1):
                    self.position += len(line)
                    state["last_line"] = number
                    state["unterminated"] = not line.endswith(b"\n")
                    quotes[0] += line.count(b'"')
                    if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                        line = line[3:]
                    try:
                        yield line.decode("utf-8")
                    except UnicodeDecodeError:
                        bad_utf8.add(number)
                        yield line.decode("utf-8", "replace")

        reader = csv.reader(lines(), delimiter=self.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        width = len(header)
        quotes[0] = 0
        for fields in reader:
            line_no = reader.line_num
            # csv ends a quoted field that the end of the file cut off as if it were closed
            in_quotes, quotes[0] = quotes[0] % 2 == 1, 0
            if not fields:
                continue
            raw = self.delimiter.join(fields)[:500]
            if line_no in bad_utf8:
                yield BadRow(line_no, [Problem("line", "invalid UTF-8")], raw)
                continue
            last = bool(state["unterminated"]) and line_no == state["last_line"]
            if len(fields) != width:
                reason = f"row has {len(fields)} of {width} columns" + (
                    " (truncated last line)" if last and len(fields) < width else ""
                )
            elif last and in_quotes:
                reason = "truncated last line (it ends inside a quoted field)"
            else:
                yield Row(line_no, dict(zip(header, fields, strict=True)))
                continue
            yield BadRow(line_no, [Problem("line", reason)], raw)

    def _parquet(self) -> Iterator[Row | BadRow]:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.path)
        number = 0
        for batch in pf.iter_batches(batch_size=10_000):
            for record in batch.to_pylist():
                number += 1
                self.position = number
                yield Row(number, record)
