"""``make release-check`` (scripts/release_check.py): which versions a changelog lets through."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("release_check", ROOT / "scripts" / "release_check.py")
assert _spec is not None and _spec.loader is not None
release_check = importlib.util.module_from_spec(_spec)
sys.modules["release_check"] = release_check  # dataclasses look their module up there
_spec.loader.exec_module(release_check)

CHANGELOG = """# Changelog

## [Unreleased]

### Added

- A new operator.

## [0.2.0] - 2026-12-01

### Fixed

- Something.

## [0.1.0] - 2026-11-24

- First.
"""

EMPTY_UNRELEASED = CHANGELOG.replace("### Added\n\n- A new operator.\n", "")


@pytest.mark.parametrize("version", ["0.3.0.dev0", "0.3.0", "0.2.1", "1.0.0rc1", "0.2.1.post1"])
def test_new_versions_pass(version: str) -> None:
    assert release_check.problems(CHANGELOG, version) == []


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("0.2.0", "already released"),
        ("0.1.0", "already released"),
        ("0.1", "already released"),  # 0.1 == 0.1.0 under PEP 440
        ("0.1.5", "older than the latest release 0.2.0"),
        ("0.2.0.dev3", "older than the latest release 0.2.0"),
        ("v0.3.0", "not in canonical PEP 440 form: write 0.3.0"),
        ("0.3-final", "not a PEP 440 version"),
    ],
)
def test_past_or_malformed_versions_are_refused(version: str, reason: str) -> None:
    assert any(reason in p for p in release_check.problems(CHANGELOG, version)), release_check.problems(
        CHANGELOG, version
    )


def test_a_final_release_needs_entries_under_unreleased() -> None:
    assert release_check.problems(EMPTY_UNRELEASED, "0.3.0.dev0") == []
    assert release_check.problems(EMPTY_UNRELEASED, "0.3.0") == ['releasing 0.3.0, but "Unreleased" lists no change']


@pytest.mark.parametrize(
    ("changelog", "reason"),
    [
        (CHANGELOG.replace("## [Unreleased]", "## Unreleased"), 'must start with a "## [Unreleased]" section'),
        (CHANGELOG.replace("[0.2.0] - 2026-12-01", "[0.2.0]"), "[0.2.0] has no release date"),
        (CHANGELOG.replace("[0.1.0]", "[0.3.0]"), "newest first"),
        (CHANGELOG.replace("[0.1.0]", "[first]"), "[first] is not a PEP 440 version"),
    ],
)
def test_malformed_changelogs_are_refused(changelog: str, reason: str) -> None:
    assert any(reason in p for p in release_check.problems(changelog, "0.3.0.dev0"))


def test_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(CHANGELOG, encoding="utf-8")
    assert release_check.main([str(path), "0.2.0"]) == 1
    assert "0.2.0 is already released" in capsys.readouterr().err
    assert release_check.main([str(path), "0.3.0"]) == 0


def test_this_repository_passes() -> None:
    """main always carries a version the changelog lets through (bump after every release)."""
    version = release_check.package_version(ROOT / "airflow_provider_whatsapp_campaigns" / "__init__.py")
    assert release_check.problems((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), version) == []
