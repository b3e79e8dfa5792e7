"""Constants and helpers shared by the security tests (a module of its own: test files cannot
import a conftest by name when several test folders are collected together)."""

from __future__ import annotations

PROBE = "pi-sec-01"
URL = "/api/v1/measurements"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
