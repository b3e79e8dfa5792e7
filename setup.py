"""Installs the repository's four parts under the one name `lomsong`.

The repository keeps `probe/`, `collector/`, `analysis/` and `maps/` at its top level, but the
names `probe`, `collector`, `analysis` and `maps` belong to other distributions on the package
index: the wheel installs them as `lomsong.probe`, `lomsong.collector`, `lomsong.analysis` and
`lomsong.maps`, so nothing but `lomsong` lands at the top of site-packages
(`tests/test_packaging.py` checks the built wheel).
"""

from setuptools import find_namespace_packages, setup

PARTS = ("probe", "collector", "analysis", "maps")

packages = ["lomsong", "lomsong.demo_wards"]
for part in PARTS:
    for name in find_namespace_packages(include=[part, f"{part}.*"], exclude=["*.__pycache__"]):
        packages.append(f"lomsong.{name}")

setup(
    packages=packages,
    package_dir={"lomsong": "lomsong", **{f"lomsong.{part}": part for part in PARTS}},
)
