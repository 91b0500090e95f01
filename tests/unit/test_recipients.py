"""Recipients from lists and files: validated first, nothing silently dropped."""

from __future__ import annotations

from unittest import mock

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.recipients import load_recipients


def test_csv_with_names_and_template_params(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("phone,name,1,2\n+14155550101,Ann,code-1,\n4155550102,Bob,code-2,x\n")
    recipients = load_recipients(str(path), default_region="US")
    assert [(r.phone, r.name, dict(r.params)) for r in recipients] == [
        ("+14155550101", "Ann", {"1": "code-1"}),
        ("+14155550102", "Bob", {"1": "code-2", "2": "x"}),
    ]


def test_invalid_rows_fail_the_whole_list_with_masked_row_numbers():
    with pytest.raises(ValidationError) as info:
        load_recipients(["+14155550101", "12", "not a phone", "+14155550102"])
    text = str(info.value)
    assert "2 invalid recipient(s), nothing was sent" in text
    assert "row 1" in text and "row 2" in text


def test_skip_mode_sends_the_valid_ones_and_says_what_was_skipped():
    log = mock.MagicMock()
    recipients = load_recipients(
        ["+14155550101", "12", "+14155550101", {"phone": "+442079460958"}], on_invalid="skip", log=log
    )
    assert [r.phone for r in recipients] == ["+14155550101", "+442079460958"]
    message = log.warning.call_args.args
    assert message[1:3] == (1, 1), "one invalid and one duplicate are reported, not silently dropped"


@pytest.mark.parametrize("value", [None, [], ["12"], "[1, 2", '{"not": "a list"}'])
def test_no_usable_recipients_is_an_error(value, tmp_path):
    with pytest.raises(ValidationError):
        load_recipients(value)


def test_rendered_list_text_is_parsed():
    assert [r.phone for r in load_recipients("['+14155550101', '+14155550102']")] == ["+14155550101", "+14155550102"]


def test_bad_jsonl_line_is_named(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"phone": "+14155550101"}\n{broken\n')
    with pytest.raises(ValidationError, match="line 2"):
        load_recipients(str(path))


@pytest.mark.parametrize("key", ["phone", "phone_number", "msisdn", "number"])
def test_one_normalizer_reads_the_same_keys_on_every_path(key):
    """The operator's files, Whatomate's import rows and Waplify's contacts read recipients one way."""
    from airflow_provider_whatsapp_campaigns.hooks.base import CampaignSpec
    from airflow_provider_whatsapp_campaigns.recipients import normalize_recipients
    from airflow_provider_whatsapp_campaigns.vendors.waplify.hook import WaplifyHook
    from airflow_provider_whatsapp_campaigns.vendors.whatomate.recipients import recipient_rows

    item = {key: "+1 415 555 0101", "recipient_name": "Ann", "template_params": {1: "x"}}
    found = normalize_recipients([item, dict(item)])
    assert [(r.phone, r.name, r.params) for r in found.valid] == [("+14155550101", "Ann", {"1": "x"})]
    assert (found.invalid, found.duplicates) == ([], 1)
    assert load_recipients([item]) == found.valid
    rows, invalid = recipient_rows([item])
    assert list(rows) == [{"phone_number": "+14155550101", "recipient_name": "Ann", "template_params": {"1": "x"}}]
    assert invalid == []
    spec = CampaignSpec(name="n", template="t", recipients=[item])  # type: ignore[list-item]
    assert WaplifyHook("w").contacts_body(spec) == [{"phone": "+14155550101", "name": "Ann"}]
