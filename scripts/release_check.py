"""``make release-check``: the package version may be released, judged against CHANGELOG.md.

Refuses a version that is not canonical PEP 440, one already listed as released (or older than the newest
release: versions only go up), a final version with nothing under "Unreleased" to release, and a changelog
whose released sections are undated or out of order. Dev versions (``X.Y.Z.devN``, what ``main`` carries
between releases) pass with an empty "Unreleased", so CI runs this on every change.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$")
VERSION_LINE = re.compile(r'^__version__ = "(?P<version>[^"]+)"$', re.MULTILINE)


@dataclass(frozen=True)
class Section:
    name: str
    date: str | None
    body: str


def sections(changelog: str) -> list[Section]:
    """The ``## [name] - date`` sections of a Keep a Changelog file, in file order."""
    found: list[Section] = []
    name: str | None = None
    date: str | None = None
    body: list[str] = []
    for line in [*changelog.splitlines(), "## [end]"]:
        match = HEADING.match(line)
        if match is None:
            body.append(line)
            continue
        if name is not None:
            found.append(Section(name, date, "\n".join(body).strip()))
        name, date, body = match["name"], match["date"], []
    return found


def problems(changelog: str, version: str) -> list[str]:
    """Every reason ``version`` may not be released with this changelog (empty when it may)."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return [f"version {version!r} is not a PEP 440 version"]
    errors = []
    if str(parsed) != version:
        errors.append(f"version {version!r} is not in canonical PEP 440 form: write {parsed}")
    found = sections(changelog)
    unreleased = [s for s in found if s.name == "Unreleased"]
    if not found or found[0].name != "Unreleased":
        errors.append('CHANGELOG.md must start with a "## [Unreleased]" section')
    released: list[tuple[Version, Section]] = []
    for section in found:
        if section.name == "Unreleased":
            continue
        try:
            released.append((Version(section.name), section))
        except InvalidVersion:
            errors.append(f"changelog heading [{section.name}] is not a PEP 440 version")
            continue
        if section.date is None:
            errors.append(f"changelog section [{section.name}] has no release date (## [X.Y.Z] - YYYY-MM-DD)")
    numbers = [v for v, _ in released]
    if numbers != sorted(numbers, reverse=True) or len(set(numbers)) != len(numbers):
        errors.append("released changelog sections must be listed newest first, each version once")
    if parsed in numbers:
        errors.append(f"version {version} is already released (changelog section [{version}]): bump __version__")
    elif numbers and parsed < max(numbers):
        errors.append(f"version {version} is older than the latest release {max(numbers)}: bump __version__")
    is_final = not (parsed.is_devrelease or parsed.is_prerelease or parsed.is_postrelease)
    if is_final and not any(line.lstrip().startswith(("- ", "* ")) for s in unreleased for line in s.body.splitlines()):
        errors.append(f'releasing {version}, but "Unreleased" lists no change')
    return errors


def package_version(init_py: Path) -> str:
    """``__version__`` as written in the package's ``__init__.py`` (hatch reads the same line)."""
    match = VERSION_LINE.search(init_py.read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f"no __version__ line in {init_py}")
    return match["version"]


def main(argv: list[str]) -> int:
    changelog = Path(argv[0]) if argv else ROOT / "CHANGELOG.md"
    version = argv[1] if len(argv) > 1 else package_version(ROOT / "airflow_provider_whatsapp_campaigns" / "__init__.py")
    errors = problems(changelog.read_text(encoding="utf-8"), version)
    for error in errors:
        print(f"release-check: {error}", file=sys.stderr)
    if not errors:
        print(f"release-check: {version} passes against {changelog.name}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
