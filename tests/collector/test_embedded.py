"""The embedded default: a private PostgreSQL from the pinned wheel, started and stopped."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lomsong.collector.embedded import embedded_postgres
from lomsong.collector.errors import EmbeddedDatabaseError
from lomsong.collector.storage.migrate import migrate


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A folder outside pytest's basetemp: each pytest session makes ``/tmp/pytest-of-<user>``
    private (0700) when it starts, which locks the embedded server's own user out of a data
    folder below it whenever two sessions run at once."""
    with tempfile.TemporaryDirectory(prefix="lomsong-embedded-") as folder:
        yield Path(folder)


def test_embedded_postgres_starts_migrates_and_stops(data_dir: Path) -> None:
    with embedded_postgres(data_dir) as url:
        status = migrate(url)
        assert status.current and status.tier.value == "postgres"
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version_num").fetchone()
        assert version is not None and int(version[0]) >= 180000
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2).close()
    with embedded_postgres(data_dir) as again:  # data survives a restart
        assert migrate(again).applied == status.applied


def test_a_data_dir_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(EmbeddedDatabaseError, match="could not start"), \
            embedded_postgres(blocker / "sub"):
        pass
