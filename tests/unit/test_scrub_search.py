"""The one search that decides whether an export page (or a verb's result) must be scrubbed value by
value: every form of every secret is found anywhere in the text, and a clean page is passed through."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_whatsapp_campaigns._http.scrub import Scrubber, secret_forms
from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook
from airflow_provider_whatsapp_campaigns.vendors.spec import ContactRow

SECRETS = (
    "whm_demo_key",
    "key+with/slash:and=more",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3",
    "pässwört-ünïcode",  # its literal form is UTF-8 in the encoded page, its escaped forms ASCII
)


def _forms() -> list[tuple[str, str]]:
    return [(secret, form) for secret in SECRETS for form in sorted(secret_forms(secret))]


@pytest.mark.parametrize(("secret", "form"), _forms())
def test_every_form_is_found_anywhere_in_a_large_text(secret, form):
    scrubber = Scrubber()
    for other in SECRETS:
        scrubber.add(other)
    filler = '{"phone": "+15550001000", "status": "sent", "name": "Zoë"}\n' * 2_000
    assert not scrubber.found(filler.encode())
    for text in (form + filler, filler + form, filler + f"x{form}y" + filler):
        assert scrubber.found(text.encode()), (secret, form)


def test_a_page_is_passed_through_unless_a_value_holds_a_secret_form(airflow_conn):
    secret = "key+with/slash:and=more"
    airflow_conn("whm_scrub", "whatomate", host="https://server.example", password=secret)
    core = get_hook("whm_scrub").core
    page = [ContactRow(recipient_id=str(i), phone=f"+1555000{i:04d}", status="sent") for i in range(1_000)]
    assert core.scrub_result(page) is page, "a clean page is not walked"
    forms = [form for form in secret_forms(secret) if "\\" not in form]  # escapes take the slow path anyway
    assert len(forms) > 5
    for form in forms:
        echoed = [*page[:500], ContactRow(recipient_id="x", error=f"echo {form} end"), *page[500:]]
        scrubbed = core.scrub_result(echoed)
        assert scrubbed is not echoed, form
        assert scrubbed[500].error == "echo *** end", form
        assert scrubbed[:500] == page[:500] and scrubbed[501:] == page[500:], "other rows are unchanged"


def test_a_secret_registered_while_pages_are_checked_does_not_break_the_check() -> None:
    """A token minted on another thread (``add``) while this one runs ``found`` must not raise, and
    the secrets known before stay found."""
    scrubber = Scrubber()
    scrubber.add("first-secret-value")
    page = b'{"error": "echo first-secret-value"}\n' + b'{"phone": "+15550001000"}\n' * 20_000
    minting = threading.Event()

    def mint() -> None:
        minting.set()
        for n in range(300):
            scrubber.add(f"minted-token-{n:04d}")

    minter = threading.Thread(target=mint)
    minter.start()
    minting.wait()
    answers = []
    while minter.is_alive():
        answers.append(scrubber.found(page))
    minter.join()
    assert answers and all(answers)
    assert scrubber.found(b"minted-token-0299") and not scrubber.found(page.replace(b"first", b"other"))
