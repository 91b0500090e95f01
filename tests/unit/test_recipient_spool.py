"""A recipients file is validated in one pass and streamed in a second: its rows wait on disk, so a
million recipients cost no more memory than ten (issue #16: ≤ 100 MB RSS growth for 1,000,000)."""

from __future__ import annotations

from unittest import mock

import pytest

from airflow_provider_whatsapp_campaigns.recipients import RecipientSpool, ValidatedRecipient, load_recipients
from airflow_provider_whatsapp_campaigns.vendors.whatomate import recipients as whatomate_recipients


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "phone,name,1\n+447400000001,Ann,a\n+447400000002,Bob,b\nnot-a-phone,Eve,e\n+447400000001,Ann again,x\n"
    )
    return path


def test_a_file_is_spooled_validated_and_deduplicated(csv_file):
    spool = load_recipients(str(csv_file), on_invalid="skip")
    assert isinstance(spool, RecipientSpool) and len(spool) == 2
    first = list(spool)
    assert first == list(spool), "every pass reads the same rows again"
    assert [(r.phone, r.name, dict(r.params)) for r in first] == [
        ("+447400000001", "Ann", {"1": "a"}),
        ("+447400000002", "Bob", {"1": "b"}),
    ]
    assert all(isinstance(r, ValidatedRecipient) for r in first)
    assert spool[-1].phone == "+447400000002" and [r.name for r in spool[0:1]] == ["Ann"]


def test_a_spool_becomes_import_rows_lazily_without_parsing_phones_again(csv_file):
    spool = load_recipients(str(csv_file), on_invalid="skip")
    with mock.patch("airflow_provider_whatsapp_campaigns.recipients.to_e164", side_effect=AssertionError("parsed again")):
        rows, invalid = whatomate_recipients.recipient_rows(spool, template_params={"2": "promo"})
        assert invalid == [] and len(rows) == 2
        assert list(rows) == [
            {"phone_number": "+447400000001", "recipient_name": "Ann", "template_params": {"2": "promo", "1": "a"}},
            {"phone_number": "+447400000002", "recipient_name": "Bob", "template_params": {"2": "promo", "1": "b"}},
        ]
