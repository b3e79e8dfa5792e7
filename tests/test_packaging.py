"""The wheel installs only `lomsong`, and the README's commands work from it outside the checkout.

The wheel is built from this checkout (pip fetches the build backend pyproject.toml names) and installed
into a fresh virtual environment in a temporary folder; that environment finds the third-party
dependencies through a ``.pth`` line naming the development environment's site-packages (a folder
added that way has its own ``.pth`` files ignored, so the editable install there is invisible).
Every command runs from the temporary folder, as a new user would.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.procs import free_port, private_home, running, stop_and_check, user_env

REPO_ROOT = Path(__file__).resolve().parents[1]
STEP_TIMEOUT_S = 300


def _source_files() -> list[str]:
    """The checkout's files as git sees them (tracked, or new and not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True, timeout=60).stdout
    return [f for f in listed.splitlines() if (REPO_ROOT / f).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the sources (a `build/` folder left in the checkout by an
    earlier build would otherwise add files that no longer exist)."""
    source = tmp_path_factory.mktemp("source")
    for name in _source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(source)], check=True, capture_output=True, timeout=STEP_TIMEOUT_S)
    (found,) = out.glob("lomsong-*.whl")
    return found


def test_the_wheel_holds_no_top_level_name_but_lomsong(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"lomsong", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for needed in ("lomsong/probe/record.py", "lomsong/collector/storage/migrations/core",
                   "lomsong/maps/locale/vi/LC_MESSAGES/lomsong.po",
                   "lomsong/analysis/thresholds.toml", "lomsong/collector/dashboard/templates"):
        assert any(n.startswith(needed) for n in names), needed
    entry = zipfile.ZipFile(wheel).read(f"{sorted(tops)[1]}/entry_points.txt").decode()
    assert "lomsong = lomsong.cli:main" in entry


def test_the_wheel_holds_exactly_the_files_of_the_parts(wheel: Path) -> None:
    names = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("lomsong/")}
    parts = ("lomsong/", "probe/", "collector/", "analysis/", "maps/")
    installed = {f if f.startswith("lomsong/") else f"lomsong/{f}"
                 for f in _source_files() if f.startswith(parts)}
    assert sorted(installed - names) == []
    assert sorted(names - installed) == []


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    with private_home() as folder:
        yield folder


@pytest.fixture(scope="module")
def venv(wheel: Path, home: Path) -> Path:
    """A fresh virtual environment outside the checkout with the wheel installed."""
    env_dir = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=STEP_TIMEOUT_S)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, timeout=STEP_TIMEOUT_S)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True, text=True,
                             timeout=60).stdout.strip()
    dev = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "lomsong-test-dependencies.pth").write_text(dev + "\n", encoding="utf-8")
    return env_dir


def _run(venv: Path, home: Path, *args: str) -> str:
    done = subprocess.run([str(venv / "bin" / "lomsong"), *args], cwd=home, env=_env(venv, home),
                          capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert done.returncode == 0, f"lomsong {' '.join(args)}:\n{done.stdout}{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


def _env(venv: Path, home: Path) -> dict[str, str]:
    env = user_env(home / "data")
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


@pytest.mark.db
@pytest.mark.iperf3
@pytest.mark.timeout(600)  # two demos of two wards each, analyze, map, four reports, serve
def test_the_readme_commands_from_the_installed_wheel(venv: Path, home: Path) -> None:
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import lomsong, lomsong.collector.app; print(lomsong.__file__)"],
                           cwd=home, capture_output=True, text=True, check=True,
                           timeout=60).stdout.strip()
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(REPO_ROOT)

    assert "probe" in _run(venv, home, "--help")
    assert json.loads(_run(venv, home, "schema"))["title"] == "Measurement"
    assert "measure" in _run(venv, home, "probe", "--help")
    port = str(free_port())
    with subprocess.Popen(["iperf3", "-s", "-1", "--forceflush", "-p", port],
                          stdout=subprocess.PIPE, text=True) as iperf3:
        assert iperf3.stdout is not None
        for line in iperf3.stdout:
            if "listening" in line:
                break
        try:
            record = json.loads(_run(venv, home, "probe", "measure", "--iperf3",
                                     f"127.0.0.1:{port}", "--duration", "1", "--carrier",
                                     "Viettel", "--json"))
        finally:
            iperf3.kill()
    assert record["carrier"] == "viettel" and record["upload_mbps"] > 0

    printed = _run(venv, home, "demo", "--once", "--days", "2", "--port", "0")
    assert "lomsong analyze --demo --ward-code 00316" in printed  # how to reach the demo's database
    assert "probe| " in printed  # the probe ran from the installed wheel too
    assert "Đã ghi survey.gpkg" in _run(venv, home, "analyze", "--demo", "--ward-code", "00316",
                                         "--out", "survey.gpkg")
    _run(venv, home, "map", "--input", "survey.gpkg", "--out", "map.html")
    assert (home / "map.html").stat().st_size > 100_000
    for carrier in ("Viettel", "VinaPhone", "Mobifone", "all"):
        _run(venv, home, "report", "--demo", "--ward-code", "00316", "--carrier", carrier,
             "--out", f"{carrier}.pdf")
        text = subprocess.run(["pdftotext", str(home / f"{carrier}.pdf"), "-"],
                              capture_output=True, text=True, check=True, timeout=60).stdout
        assert demo_ward() in text

    with running([str(venv / "bin" / "lomsong"), "demo", "--days", "1", "--port", "0"],
                 _env(venv, home), home, "Ctrl-C") as demo:
        stop_and_check(demo, signal.SIGTERM, home / "data" / "demo" / "postgres")
    with running([str(venv / "bin" / "lomsong"), "serve", "--port", "0"],
                 _env(venv, home), home, "Uvicorn running on") as serve:
        stop_and_check(serve, signal.SIGTERM, home / "data" / "postgres")


def demo_ward() -> str:
    from lomsong.demo_city import DEMO_WARDS

    return DEMO_WARDS[0].name
