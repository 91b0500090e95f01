"""Every operator (and the sensor) that knows a campaign offers the console link; the URL is right per vendor."""

from __future__ import annotations

import inspect
from typing import Any
from unittest import mock

import pytest

from airflow_provider_whatsapp_campaigns.links import CAMPAIGN_URL_KEY, WhatsAppCampaignLink
from airflow_provider_whatsapp_campaigns.operators import campaign, export
from airflow_provider_whatsapp_campaigns.operators.common import CampaignOperatorBase, push_campaign_url
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor
from airflow_provider_whatsapp_campaigns.vendors.registry import get_hook

CAMPAIGN_CLASSES = [
    cls
    for module in (campaign, export)
    for _, cls in inspect.getmembers(module, inspect.isclass)
    if issubclass(cls, CampaignOperatorBase) and not cls.__name__.startswith("_") and cls is not CampaignOperatorBase
]


def test_every_campaign_operator_is_covered() -> None:
    names = {cls.__name__ for cls in CAMPAIGN_CLASSES}
    assert {"WhatsAppCreateCampaignOperator", "WhatsAppStartCampaignOperator", "WhatsAppCampaignStatsOperator",
            "WhatsAppPauseCampaignOperator", "WhatsAppCancelCampaignOperator",
            "WhatsAppExportContactsOperator"} <= names


@pytest.mark.parametrize("cls", [*CAMPAIGN_CLASSES, WhatsAppCampaignSensor], ids=lambda c: c.__name__)
def test_the_link_is_offered(cls: type) -> None:
    assert any(isinstance(link, WhatsAppCampaignLink) for link in cls.operator_extra_links)
    # Every execute path that knows a campaign pushes its URL before doing anything else that can fail.
    ours = [k for k in cls.__mro__ if k.__module__.startswith("airflow_provider_whatsapp_campaigns.")]
    assert any("push_campaign_url(" in inspect.getsource(k) for k in ours if k is not CampaignOperatorBase)


@pytest.mark.parametrize(
    ("conn_id", "expected"),
    [
        ("whatomate_default", "{whatomate}/campaigns/c-42"),
        ("whatomate_jwt_default", "{whatomate}/campaigns/c-42"),
        # No documented console URL for these vendors: an empty link rather than a guessed one.
        ("sprl_default", ""),
        ("insider_whatsapp_default", ""),
        ("waplify_default", ""),
    ],
)
def test_the_url_pushed_and_read_back(conn_id: str, expected: str, sandbox: Any, sandbox_conns: Any) -> None:
    ti = mock.MagicMock()
    push_campaign_url({"ti": ti}, get_hook(conn_id), "c-42")  # type: ignore[arg-type]
    url = expected.format(whatomate=sandbox.base_url("whatomate"))
    ti.xcom_push.assert_called_once_with(key=CAMPAIGN_URL_KEY, value=url)
    with mock.patch("airflow_provider_whatsapp_campaigns.links.XCom.get_value", return_value=url) as get_value:
        assert WhatsAppCampaignLink().get_link(mock.MagicMock(), ti_key=mock.sentinel.key) == url
    get_value.assert_called_once_with(key=CAMPAIGN_URL_KEY, ti_key=mock.sentinel.key)
