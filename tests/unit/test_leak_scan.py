from __future__ import annotations

from tests.conftest import TEST_SECRETS, find_leaks


def test_scanner_finds_a_secret_and_ignores_clean_text():
    assert find_leaks(["all fine", "token ***"]) == []
    assert find_leaks(["Authorization: Bearer wapl_demo_key"]) == [TEST_SECRETS.index("wapl_demo_key")]
