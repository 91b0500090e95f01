"""scripts/dist_contents.py (``make dist-check``): which wheel and sdist file lists it refuses."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("dist_contents", ROOT / "scripts" / "dist_contents.py")
assert _spec is not None and _spec.loader is not None
dist_contents = importlib.util.module_from_spec(_spec)
sys.modules["dist_contents"] = dist_contents
_spec.loader.exec_module(dist_contents)

PKG = "airflow_provider_whatsapp_campaigns"
INFO = "airflow_provider_whatsapp_campaigns-1.0.0.dist-info"
EXPECTED = {f"{PKG}/__init__.py", f"{PKG}/py.typed", f"{PKG}/hooks/base.py"}
GOOD = [*sorted(EXPECTED), f"{INFO}/METADATA", f"{INFO}/entry_points.txt", f"{INFO}/licenses/LICENSE", f"{INFO}/RECORD"]
ENTRY_POINTS = f"[apache_airflow_provider]\nprovider_info = {PKG}:get_provider_info\n"
METADATA = "Metadata-Version: 2.4\nName: airflow-provider-whatsapp-campaigns\nVersion: 1.0.0\nLicense-Expression: Apache-2.0\n"


def problems(names: list[str] = GOOD, entry_points: str = ENTRY_POINTS, metadata: str = METADATA) -> list[str]:
    return dist_contents.wheel_problems(names, entry_points, metadata, EXPECTED, "1.0.0")


def test_a_complete_wheel_passes() -> None:
    assert problems() == []


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        ([n for n in GOOD if n != f"{PKG}/hooks/base.py"], "lacks package files: ['airflow_provider_whatsapp_campaigns/hooks/base.py']"),
        ([n for n in GOOD if not n.endswith("py.typed")], "lacks py.typed"),
        ([*GOOD, "tests/unit/test_x.py"], "outside the package"),
        ([*GOOD, f"{PKG}/tests/helpers.py"], "test files"),
        ([*GOOD, "example_dags/lifecycle.py"], "outside the package"),
        ([n for n in GOOD if not n.endswith("LICENSE")], "lacks the LICENSE"),
    ],
)
def test_wheel_file_list_problems(names: list[str], reason: str) -> None:
    assert any(reason in p for p in problems(names)), problems(names)


def test_wheel_metadata_problems() -> None:
    assert any("entry point" in p for p in problems(entry_points="[console_scripts]\nx = y:z\n"))
    assert any("!= __version__ 1.0.0" in p for p in problems(metadata=METADATA.replace("1.0.0", "0.9.0")))
    assert any("not Apache-2.0" in p for p in problems(metadata=METADATA.replace("Apache-2.0", "MIT")))


def test_sdist_needs_the_package_and_the_legal_files() -> None:
    complete = [*EXPECTED, *dist_contents.SDIST_EXTRAS]
    assert dist_contents.sdist_problems(complete, EXPECTED) == []
    assert dist_contents.sdist_problems([n for n in complete if n != "LICENSE"], EXPECTED) == ["sdist lacks ['LICENSE']"]


def test_package_files_lists_this_package() -> None:
    files = dist_contents.package_files()
    assert f"{PKG}/py.typed" in files and f"{PKG}/hooks/__init__.py" in files
    assert not [f for f in files if "__pycache__" in f]
