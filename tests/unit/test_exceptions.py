from __future__ import annotations

import pickle

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import (
    ERROR_CLASSES,
    InvalidState,
    QuotaExceeded,
    RateLimited,
    VendorUnavailable,
    WhatsAppCampaignError,
    is_transient,
)
from airflow_provider_whatsapp_campaigns.version_compat import AirflowException, AirflowFailException


@pytest.mark.parametrize("cls", sorted(ERROR_CLASSES.values(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_error_round_trips_and_is_classified(cls):
    exc = cls("boom", vendor="sprl", http_status=429, vendor_code=129, retry_after=2.0)
    assert isinstance(exc, AirflowException)
    transient = cls in (RateLimited, VendorUnavailable)
    assert is_transient(exc) is transient
    if cls is not WhatsAppCampaignError:
        assert isinstance(exc, AirflowFailException) is (not transient)
    again = WhatsAppCampaignError.from_dict(exc.to_dict())
    assert type(again) is cls
    assert again.to_dict() == exc.to_dict()
    assert type(pickle.loads(pickle.dumps(exc))) is cls


def test_message_names_vendor_status_and_code():
    text = str(QuotaExceeded("daily quota used up", vendor="sprl", http_status=429, vendor_code=129))
    assert text == "[sprl, HTTP 429, code 129] daily quota used up"
    assert str(InvalidState("x")) == "x"
