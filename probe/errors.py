"""The probe's exception tree, written down in one place.

    ProbeError
    ├── ConfigError      probe.toml or command-line settings are wrong (names the key)
    ├── ParseError       a tool's output or an imported file could not be read (names file/line)
    ├── ToolError        an external tool could not be run or failed
    ├── SpoolError       the on-disk spool refused or failed an operation
    └── UploadError      the collector could not take a batch (kept in the spool for later)
"""

from __future__ import annotations

__all__ = ["ConfigError", "ParseError", "ProbeError", "SpoolError", "ToolError", "UploadError"]


class ProbeError(Exception):
    """Base of every error the probe raises on purpose."""


class ConfigError(ProbeError):
    """A setting is missing or invalid; the message names the key and the file."""


class ParseError(ProbeError):
    """Tool output or an input file could not be parsed.

    `source` names the tool or file, `line` the 1-based line when known.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        where = ""
        if source is not None:
            where = source if line is None else f"{source}:{line}"
            where += ": "
        super().__init__(f"{where}{message}")
        self.source = source
        self.line = line


class ToolError(ProbeError):
    """An external tool is missing, timed out or failed."""


class SpoolError(ProbeError):
    """The spool could not store or hand out records."""


class UploadError(ProbeError):
    """The collector did not acknowledge a batch; `retry_after_s` is its hint, if any."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
