"""Reading files as text the way Python would (PEP 263 cookies, BOM), never executing them."""

from __future__ import annotations

import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from typing import Optional

# Larger files are reported (KC900) instead of parsed: libcst needs seconds and hundreds
# of megabytes for them, and Keras training code is never that big.
MAX_FILE_BYTES = 8 * 1024 * 1024
# A notebook's size is mostly its outputs (plots, images): its code is limited later.
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024

# A "\r" that is not part of "\r\n": Python and libcst end a row there too.
LONE_CR = re.compile(r"\r(?!\n)")


class SourceError(Exception):
    """The file could not be read, decoded or safely parsed; the message says why, for a
    KC900 finding."""

    def __init__(self, message: str, row: int = 1, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # as Python names it; "utf-8-sig" when the file starts with a BOM
    newline: str  # the first line ending of ``text`` ("\n" if it has none)
    # Python and libcst end a row at a lone "\r" too; ``text`` has "\n" there instead, so
    # that every row count downstream agrees. "all": an old Mac file, written back with
    # "\r" again; "some": mixed with "\n", which cannot be written back exactly.
    lone_cr: str = ""

    def encode(self, text: str) -> Optional[bytes]:
        """The file's bytes for ``text`` (an edited ``self.text``); None if that would
        change line breaks the edit did not touch."""
        if self.lone_cr == "some":
            return None
        if self.lone_cr == "all":
            text = text.replace("\n", "\r")
        return text.encode(self.encoding)


def read_bytes(path: str) -> bytes:
    """Read a regular file; refuse FIFOs, devices and directories without blocking on them."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SourceError("file not found (deleted or a dangling symlink)") from None
    except OSError as error:
        raise SourceError(f"cannot read file: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise SourceError("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise SourceError("not a regular file (a FIFO, socket or device): skipped")
    limit = MAX_NOTEBOOK_BYTES if path.endswith(".ipynb") else MAX_FILE_BYTES
    if info.st_size > limit:
        raise SourceError(
            f"file is {info.st_size / 1_048_576:.1f} MiB, over the "
            f"{limit // 1_048_576} MiB limit: skipped"
        )
    try:
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except FileNotFoundError:
        raise SourceError("file not found (deleted while the scan ran)") from None
    except OSError as error:
        raise SourceError(f"cannot read file: {error.strerror or error}") from None


def newline_of(text: str) -> str:
    index = text.find("\n")
    if index > 0 and text[index - 1] == "\r":
        return "\r\n"
    if index < 0 and "\r" in text:
        return "\r"
    return "\n"


def decode_python(data: bytes) -> DecodedText:
    """Decode Python source by its BOM or coding cookie (PEP 263), defaulting to UTF-8."""
    if b"\x00" in data:
        raise SourceError("file contains NUL bytes: binary data, not Python source")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise SourceError(f"bad encoding declaration: {error.msg}", error.lineno or 1) from None
    try:
        text = data.decode(encoding)
    except Exception as error:  # a codec's own errors: punycode raises a bare UnicodeError
        row = _row_of_offset(data, getattr(error, "start", 0))
        raise SourceError(
            f"cannot decode file as {encoding}: {error}", row
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if LONE_CR.search(text) is None:
        return DecodedText(text, encoding, newline_of(text))
    lone_cr = "some" if "\n" in text else "all"
    return DecodedText(LONE_CR.sub("\n", text), encoding, "\n", lone_cr)


def decode_json_text(data: bytes) -> DecodedText:
    """Notebooks are UTF-8 JSON (a BOM is tolerated)."""
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        raise SourceError(f"cannot decode notebook as UTF-8: {error}") from None
    return DecodedText(text, encoding, newline_of(text))


def encode_text(text: str, encoding: str) -> bytes:
    """The inverse of the decoders above (``utf-8-sig`` restores the BOM)."""
    return text.encode(encoding)


def _row_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, max(offset, 0)) + 1

