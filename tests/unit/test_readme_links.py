"""The README is also the package's index page, where relative links and images do not resolve."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|(?:src|href)=\"([^\"]+)\"|^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


def readme_links() -> list[str]:
    return [next(g for g in match.groups() if g) for match in LINK.finditer((ROOT / "README.md").read_text("utf-8"))]


def repository_url() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]["urls"]["Source"].rstrip("/")


def test_every_readme_link_is_absolute() -> None:
    links = readme_links()
    assert links, "the link pattern found nothing: it is broken"
    assert [link for link in links if not link.startswith("https://")] == []


def test_links_into_this_repository_name_files_that_exist() -> None:
    """Links to ``<repo>/blob/main/<path>`` and raw ``…/main/<path>`` images point at files in the tree."""
    repo = repository_url()
    owner_name = repo.removeprefix("https://github.com/")
    prefixes = (f"{repo}/blob/main/", f"{repo}/tree/main/", f"https://raw.githubusercontent.com/{owner_name}/main/")
    inside = [link for link in readme_links() if link.startswith(prefixes)]
    assert len(inside) >= 6, inside  # the six connection-form screenshots at least
    missing = [link for link in inside if not (ROOT / link.split("/main/", 1)[1].split("#")[0]).exists()]
    assert missing == []
