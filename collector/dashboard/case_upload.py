"""Checks a file attached to a case: its size, and its type by its first bytes (never its name).

Example
-------
>>> checked_file("thư trả lời.pdf", b"%PDF-1.7\\n...")
('thu_tra_loi.pdf', 'application/pdf')
>>> try:
...     checked_file("a.pdf", b"<html>")
... except FileRefused as exc:
...     print(exc)
file: only PDF, PNG or JPEG files are accepted
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_FILE_BYTES", "FileRefused", "checked_file"]

MAX_FILE_BYTES = 5 * 1024 * 1024
_MAGIC = ((b"%PDF-", "application/pdf", ".pdf"), (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
          (b"\xff\xd8\xff", "image/jpeg", ".jpg"))
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileRefused(ValueError):
    """The file is empty, too large or of a type not accepted; the message names the field.

    `message` is the English message id of the catalog (``{mib}`` is the size cap in MiB).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message.format(mib=MAX_FILE_BYTES // (1024 * 1024)))
        self.message = message


def _safe_name(name: str, extension: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    stem = _UNSAFE.sub("_", ascii_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._")
    stem = stem[:100].rsplit(".", 1)[0] if "." in stem[:100] else stem[:100]
    return (stem or "file") + extension


def checked_file(name: str, content: bytes) -> tuple[str, str]:
    """A safe ASCII file name and the media type read from the content; `FileRefused` if not."""
    if not content:
        raise FileRefused("file: empty")
    if len(content) > MAX_FILE_BYTES:
        raise FileRefused("file: larger than {mib} MiB")
    for magic, media_type, extension in _MAGIC:
        if content.startswith(magic):
            return _safe_name(name, extension), media_type
    raise FileRefused("file: only PDF, PNG or JPEG files are accepted")
