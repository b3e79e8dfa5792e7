"""Helpers for the parser tests: the real sample files and a corruption strategy for fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"


def real_file(relative: str) -> Path:
    """A file under ``../shared/realdata``; skips the test when the folder is absent."""
    path = REALDATA / relative
    if not path.is_file():
        pytest.skip(f"real sample {relative} not available")
    return path


def real_text(relative: str) -> str:
    return real_file(relative).read_text(encoding="utf-8")


def real_files(pattern: str) -> list[Path]:
    """Glob under realdata at collection time (empty when the folder is absent)."""
    return sorted(REALDATA.glob(pattern)) if REALDATA.is_dir() else []


@st.composite
def corrupted(draw: st.DrawFn, text: str) -> str:
    """`text` truncated, with a slice cut out, or with some characters replaced."""
    how = draw(st.sampled_from(["truncate", "cut", "replace", "insert"]))
    n = len(text)
    i = draw(st.integers(0, n))
    if how == "truncate":
        return text[:i]
    j = draw(st.integers(i, min(n, i + 200)))
    if how == "cut":
        return text[:i] + text[j:]
    junk = draw(
        st.text(
            alphabet=st.sampled_from(list(',;:."-0123456789\n\tAZaz*$#{}[] \r\x00é')),
            min_size=1,
            max_size=8,
        )
    )
    if how == "replace":
        return text[:i] + junk + text[i + len(junk) :]
    return text[:i] + junk + text[i:]
