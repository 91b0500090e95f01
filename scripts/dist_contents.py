"""Checks what the built sdist and wheel hold: ``python scripts/dist_contents.py dist/``.

``--requires <wheel> [extra …]`` prints the wheel's runtime requirements (and those of the extras named)
instead, for the lowest-versions install.

The wheel must hold every file of the package (modules, ``py.typed``, data), the provider-info entry
point Airflow discovers providers by, the license, the version ``__init__`` declares, and nothing else
(no tests, example DAGs or scripts). The sdist must hold what the wheel is built from plus the legal and
history files.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_provider_whatsapp_campaigns"
ENTRY_POINT = f"[apache_airflow_provider]\nprovider_info = {PACKAGE}:get_provider_info"
SDIST_EXTRAS = {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "PKG-INFO"}


def package_files(root: Path = ROOT) -> set[str]:
    """Every file of the package in the source tree, as archive paths (bytecode caches excluded)."""
    return {
        path.relative_to(root).as_posix()
        for path in (root / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def wheel_problems(names: list[str], entry_points: str, metadata: str, expected: set[str], version: str) -> list[str]:
    """Why a wheel with these member ``names``, ``entry_points.txt`` and ``METADATA`` is not releasable."""
    problems = []
    if missing := sorted(expected - set(names)):
        problems.append(f"wheel lacks package files: {missing}")
    if f"{PACKAGE}/py.typed" not in names:
        problems.append("wheel lacks py.typed (PEP 561: type checkers would ignore the hints)")
    if strays := sorted(n for n in names if not n.startswith((f"{PACKAGE}/", f"{_dist_info(names)}/"))):
        problems.append(f"wheel holds files outside the package: {strays}")
    if tests := sorted(n for n in names if "tests" in n.split("/")[:-1] or n.split("/")[-1].startswith("test_")):
        problems.append(f"wheel holds test files: {tests}")
    if ENTRY_POINT not in entry_points.replace("\r\n", "\n"):
        problems.append(f"entry_points.txt lacks the provider entry point:\n{ENTRY_POINT}")
    headers = HeaderParser().parsestr(metadata)
    if headers["Version"] != version:
        problems.append(f"wheel version {headers['Version']} != __version__ {version}")
    if headers["License-Expression"] != "Apache-2.0":
        problems.append(f"License-Expression is {headers['License-Expression']!r}, not Apache-2.0")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append("wheel lacks the LICENSE file under .dist-info/licenses/")
    return problems


def sdist_problems(names: list[str], expected: set[str]) -> list[str]:
    """Why an sdist with these member ``names`` (without the top folder) is not releasable."""
    if missing := sorted((expected | SDIST_EXTRAS) - set(names)):
        return [f"sdist lacks {missing}"]
    return []


def runtime_requirements(wheel: Path, extras: tuple[str, ...] = ()) -> list[str]:
    """The wheel's ``Requires-Dist`` lines outside any extra (what ``pip install <wheel>`` pulls in),
    plus those of ``extras`` without their marker."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = HeaderParser().parsestr(archive.read(f"{_dist_info(archive.namelist())}/METADATA").decode())
    lines = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement, _, marker = line.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if extra is None:
            lines.append(line)
        elif extra.group(1) in extras:
            lines.append(requirement.strip())
    return lines


def _dist_info(names: list[str]) -> str:
    return next((n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")), "<no .dist-info>")


def main(dist: Path) -> int:
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise SystemExit(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
    sys.path.insert(0, str(ROOT / "scripts"))
    from release_check import package_version

    version = package_version(ROOT / PACKAGE / "__init__.py")
    expected = package_files()
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        info = _dist_info(names)
        problems = wheel_problems(
            names,
            wheel.read(f"{info}/entry_points.txt").decode() if f"{info}/entry_points.txt" in names else "",
            wheel.read(f"{info}/METADATA").decode(),
            expected,
            version,
        )
    with tarfile.open(sdists[0]) as sdist:
        problems += sdist_problems([m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name], expected)
    for problem in problems:
        print(f"dist-check: {problem}", file=sys.stderr)
    if not problems:
        print(f"dist-check: {wheels[0].name} holds {len(expected)} package files, py.typed, the entry point, LICENSE;"
              f" {sdists[0].name} holds them and {sorted(SDIST_EXTRAS)}")
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--requires"]:  # dist_check.sh: the declared minimums become direct requirements
        print("\n".join(runtime_requirements(Path(sys.argv[2]), tuple(sys.argv[3:]))))
        sys.exit(0)
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist"))
