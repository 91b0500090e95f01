"""Bad input from a DAG author or a connection fails fast, typed, and before any request.

One table over every operator, the sensor, the trigger and every connection extra. Each case
asserts the error type, that the message names the field (and shows the bad value), and that the
vendor sandbox counted zero requests — not one byte left for a vendor.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.operators.campaign import (
    WhatsAppCampaignStatsOperator,
    WhatsAppCancelCampaignOperator,
    WhatsAppCreateCampaignOperator,
    WhatsAppPauseCampaignOperator,
    WhatsAppStartCampaignOperator,
)
from airflow_provider_whatsapp_campaigns.operators.export import WhatsAppExportContactsOperator
from airflow_provider_whatsapp_campaigns.operators.insider import InsiderTransactionalStatsOperator
from airflow_provider_whatsapp_campaigns.sensors.campaign import WhatsAppCampaignSensor
from airflow_provider_whatsapp_campaigns.triggers.campaign import WhatsAppCampaignTrigger

WHM_ID = "5b1c7c9e-0000-4000-a000-000000000001"
TRAVERSAL = "1/../../x?y="
ID_OPERATORS = (
    WhatsAppStartCampaignOperator,
    WhatsAppCampaignStatsOperator,
    WhatsAppPauseCampaignOperator,
    WhatsAppCancelCampaignOperator,
)


def context() -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="d", task_id="t", run_id="r", map_index=-1)
    return {"ti": ti}


@dataclass
class Env:
    sandbox: Any
    airflow_conn: Callable[..., str]
    tmp_path: Any

    def conn(self, conn_type: str, conn_id: str | None = None, **extra: Any) -> str:
        """A copy of the sandbox's demo connection of ``conn_type`` with ``extra`` merged in."""
        value = json.loads(self.sandbox.airflow_connections()[f"AIRFLOW_CONN_{conn_type.upper()}_DEFAULT"])
        value["extra"] = {**value.get("extra", {}), **extra}
        conn_id = conn_id or f"bad_{conn_type}"
        value.pop("conn_type")
        return self.airflow_conn(conn_id, conn_type, **value)

    def file(self, name: str, content: bytes) -> str:
        path = self.tmp_path / name
        path.write_bytes(content)
        return str(path)


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Env], Any]
    field: str
    shows: str | None = None  # the bad value as the message must show it
    error: type[Exception] = ValidationError


def _stats(conn_id: str, campaign_id: Any, **kw: Any) -> Callable[[Env], Any]:
    return lambda env: WhatsAppCampaignStatsOperator(task_id="t", conn_id=conn_id, campaign_id=campaign_id, **kw).execute(
        context()
    )


def _start(conn_id: str, campaign_id: Any, **kw: Any) -> Callable[[Env], Any]:
    return lambda env: WhatsAppStartCampaignOperator(task_id="t", conn_id=conn_id, campaign_id=campaign_id, **kw).execute(
        context()
    )


def _create(conn_id: str = "whatomate_default", **kw: Any) -> Callable[[Env], Any]:
    args = {"name": "Spring", "template": "welcome", "recipients": ["+14155550101"], **kw}
    return lambda env: WhatsAppCreateCampaignOperator(task_id="t", conn_id=conn_id, **args).execute(context())


def _create_from_file(name: str, content: bytes, conn_id: str = "whatomate_default") -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        path = env.file(name, content)
        return WhatsAppCreateCampaignOperator(
            task_id="t", conn_id=conn_id, name="n", template="t", recipients=path
        ).execute(context())

    return run


def _extra_stats(conn_type: str, campaign_id: str, **extra: Any) -> Callable[[Env], Any]:
    def run(env: Env) -> Any:
        conn_id = env.conn(conn_type, **extra)
        return WhatsAppCampaignStatsOperator(task_id="t", conn_id=conn_id, campaign_id=campaign_id).execute(context())

    return run


def _trigger_event(**kwargs: Any) -> Callable[[Env], Any]:
    """Run a trigger to its event; an error event is re-raised as the typed error it carries."""

    def run(env: Env) -> Any:
        import asyncio

        from airflow_provider_whatsapp_campaigns.exceptions import WhatsAppCampaignError

        args = {"conn_id": "whatomate_default", "campaign_id": WHM_ID, "end_time": time.time() + 60, **kwargs}

        async def first() -> dict[str, Any]:
            async for event in WhatsAppCampaignTrigger(**args).run():
                return event.payload
            raise AssertionError("the trigger yielded nothing")

        payload = asyncio.run(first())
        if payload.get("status") == "error":
            raise WhatsAppCampaignError.from_dict(payload["error"])
        return payload

    return run


def _construct(cls: type, **kwargs: Any) -> Callable[[Env], Any]:
    return lambda env: cls(task_id="t", **kwargs)


CASES: list[Case] = [
    # ------------------------------------------------------------ campaign_id: empty, per operator
    *[
        Case(f"{cls.__name__}-campaign_id-{value!r}", _construct(cls, conn_id="whatomate_default", campaign_id=value),
             "campaign_id")
        for cls in (*ID_OPERATORS, WhatsAppCampaignSensor)
        for value in (None, "", "   ")
    ],
    Case("export-campaign_id-empty",
         _construct(WhatsAppExportContactsOperator, conn_id="whatomate_default", campaign_id="", path="x.csv"),
         "campaign_id"),
    Case("trigger-campaign_id-empty",
         lambda env: WhatsAppCampaignTrigger("whatomate_default", "", end_time=time.time()), "campaign_id"),
    # ------------------------------------------------------------ campaign_id: per vendor format
    Case("whatomate-id-not-uuid", _stats("whatomate_default", "42"), "campaign_id", "'42'"),
    Case("whatomate-jwt-id-not-uuid-no-login", _stats("whatomate_jwt_default", "abc"), "campaign_id", "'abc'"),
    Case("whatomate-start-traversal", _start("whatomate_default", TRAVERSAL), "campaign_id", repr(TRAVERSAL)),
    Case("whatomate-pause-traversal",
         lambda env: WhatsAppPauseCampaignOperator(task_id="t", conn_id="whatomate_default",
                                                   campaign_id=TRAVERSAL).execute(context()),
         "campaign_id"),
    Case("whatomate-cancel-none-rendered",
         lambda env: WhatsAppCancelCampaignOperator(task_id="t", conn_id="whatomate_default",
                                                    campaign_id="None").execute(context()),
         "campaign_id", "'None'"),
    Case("whatomate-export-not-uuid",
         lambda env: WhatsAppExportContactsOperator(task_id="t", conn_id="whatomate_default", campaign_id="7",
                                                    path=str(env.tmp_path / "o.csv")).execute(context()),
         "campaign_id"),
    Case("waplify-start-traversal", _start("waplify_default", TRAVERSAL), "campaign_id", repr(TRAVERSAL)),
    Case("waplify-stats-space", _stats("waplify_default", "a b"), "campaign_id"),
    Case("waplify-stats-dotdot", _stats("waplify_default", ".."), "campaign_id"),
    *[
        Case(f"insider-id-{value}", _stats("insider_whatsapp_default", value), "campaign_id", repr(value))
        for value in ("abc", "0", "-5", "1.5", "١٢")
    ],
    Case("insider-oauth-id-no-mint", _stats("insider_whatsapp_oauth_default", "x1"), "campaign_id"),
    Case("sprl-id-slash", _stats("sprl_default", "a/b"), "campaign_id"),
    Case("sensor-poke-not-uuid",
         lambda env: WhatsAppCampaignSensor(task_id="t", conn_id="whatomate_default", campaign_id="42").poke(context()),
         "campaign_id"),
    Case("trigger-id-not-uuid", _trigger_event(campaign_id="42"), "campaign_id"),
    # ------------------------------------------------------------ connections
    Case("unknown-conn-operator", _stats("no_such_conn", WHM_ID), "no_such_conn"),
    Case("unknown-conn-trigger", _trigger_event(conn_id="no_such_conn"), "no_such_conn"),
    Case("http-conn-type-operator",
         lambda env: (env.airflow_conn("plain_http", "http", host="http://127.0.0.1:9"),
                      _stats("plain_http", WHM_ID)(env)),
         "whatomate"),
    Case("http-conn-type-trigger",
         lambda env: (env.airflow_conn("plain_http", "http", host="http://127.0.0.1:9"),
                      _trigger_event(conn_id="plain_http")(env)),
         "whatomate"),
    # ------------------------------------------------------------ connection extras (bound in the message)
    *[
        Case(f"extra-timeout-{value}", _extra_stats("waplify", WHM_ID, timeout=value), "timeout", bound)
        for value, bound in (("nan", "3600"), ("inf", "3600"), ("-1", "1"), (0, "1"), (10**9, "3600"), ("soon", "soon"))
    ],
    *[
        Case(f"extra-rate_limit-{value}", _extra_stats("whatomate", WHM_ID, rate_limit=value), "rate_limit", bound)
        for value, bound in (("nan", "10000"), ("inf", "10000"), (-1, "0"), (10**9, "10000"))
    ],
    *[
        Case(f"extra-max_retries-{value}", _extra_stats("insider_whatsapp", "7", max_retries=value), "max_retries",
             bound)
        for value, bound in ((10**9, "10"), (-1, "0"), ("2.5", "2.5"), (True, "True"), ("nan", "nan"))
    ],
    Case("extra-verify", _extra_stats("sprl", "demo-campaign", verify="maybe"), "verify", "'maybe'"),
    Case("extra-allow_insecure", _extra_stats("sprl", "demo-campaign", allow_insecure="perhaps"), "allow_insecure"),
    Case("extra-redis_url", _extra_stats("waplify", WHM_ID, redis_url="http://127.0.0.1:6379"), "redis_url"),
    Case("extra-scopes", _extra_stats("insider_whatsapp_oauth", "7", scopes=5), "scopes"),
    Case("extra-token_url", _extra_stats("insider_whatsapp_oauth", "7", token_url="ftp://x"), "token_url"),
    Case("extra-account_id", _extra_stats("sprl", "demo-campaign", account_id={"a": 1}), "account_id"),
    # ------------------------------------------------------------ waits: operator, sensor, trigger
    *[
        Case(f"start-poll_interval-{value}",
             _construct(WhatsAppStartCampaignOperator, conn_id="waplify_default", campaign_id=WHM_ID,
                        wait_for_completion=True, poll_interval=value),
             "poll_interval")
        for value in (0, -1, 0.5, math.nan, math.inf)
    ],
    *[
        Case(f"start-timeout-{value}",
             _construct(WhatsAppStartCampaignOperator, conn_id="waplify_default", campaign_id=WHM_ID,
                        wait_for_completion=True, timeout=value),
             "timeout")
        for value in (0, -5, timedelta(0), math.nan)
    ],
    *[
        Case(f"sensor-poke_interval-{value}",
             _construct(WhatsAppCampaignSensor, conn_id="waplify_default", campaign_id=WHM_ID, poke_interval=value),
             "poke_interval")
        for value in (0, -1, 0.2, timedelta(milliseconds=10), math.nan)
    ],
    *[
        Case(f"sensor-timeout-{value}",
             _construct(WhatsAppCampaignSensor, conn_id="waplify_default", campaign_id=WHM_ID, timeout=value),
             "timeout")
        for value in (0, -1, timedelta(seconds=-1), math.inf)
    ],
    Case("sensor-completion", _construct(WhatsAppCampaignSensor, conn_id="waplify_default", campaign_id=WHM_ID,
                                         completion="vibes"), "completion", "'vibes'"),
    Case("sensor-settle_polls", _construct(WhatsAppCampaignSensor, conn_id="waplify_default", campaign_id=WHM_ID,
                                           settle_polls=1), "settle_polls"),
    Case("sensor-accept_statuses", _construct(WhatsAppCampaignSensor, conn_id="waplify_default", campaign_id=WHM_ID,
                                              accept_statuses=["gone"]), "accept_statuses", "gone"),
    Case("sensor-stats_options", _construct(WhatsAppCampaignSensor, conn_id="waplify_default", campaign_id=WHM_ID,
                                            stats_options=[("a", 1)]), "stats_options"),
    *[
        Case(f"trigger-poll_interval-{value}",
             lambda env, v=value: WhatsAppCampaignTrigger("waplify_default", WHM_ID, end_time=time.time(),
                                                          poll_interval=v),
             "poll_interval")
        for value in (-1, 0, 0.2, math.nan)
    ],
    Case("trigger-end_time-nan",
         lambda env: WhatsAppCampaignTrigger("waplify_default", WHM_ID, end_time=math.nan), "end_time"),
    Case("trigger-max_consecutive_failures",
         lambda env: WhatsAppCampaignTrigger("waplify_default", WHM_ID, end_time=1.0, max_consecutive_failures=0),
         "max_consecutive_failures"),
    # ------------------------------------------------------------ create: name, template_params, options
    Case("create-name-int", _construct(WhatsAppCreateCampaignOperator, conn_id="whatomate_default", name=123,
                                       template="t", recipients=["+14155550101"]), "name", "123"),
    Case("create-name-blank", _construct(WhatsAppCreateCampaignOperator, conn_id="whatomate_default", name="  ",
                                         template="t", recipients=["+14155550101"]), "name"),
    Case("create-name-rendered-dict", _create(name={"x": 1}), "name"),
    Case("create-template-blank", _construct(WhatsAppCreateCampaignOperator, conn_id="whatomate_default", name="n",
                                             template="", recipients=["+14155550101"]), "template"),
    Case("create-template_params-pairs",
         _construct(WhatsAppCreateCampaignOperator, conn_id="whatomate_default", name="n", template="t",
                    recipients=["+14155550101"], template_params=[("1", "a")]),
         "template_params"),
    Case("create-template_params-nested", _create(template_params={"1": {"deep": 1}}), "template_params"),
    Case("create-template_params-none-value", _create(template_params={"1": None}), "template_params"),
    Case("create-template_params-rendered-text", _create(template_params="{'1': 'a'}"), "template_params"),
    Case("create-template_params-huge-int", _create(template_params={"1": 10**5000}), "template_params"),
    Case("start-poll_interval-huge-int",
         _construct(WhatsAppStartCampaignOperator, conn_id="waplify_default", campaign_id=WHM_ID,
                    poll_interval=10**400), "poll_interval"),
    Case("extra-timeout-huge-int", _extra_stats("waplify", WHM_ID, timeout=10**400), "timeout", "3600"),
    Case("create-template_params-waplify", _create("waplify_default", template_params={"1": [1, 2]}),
         "template_params"),
    Case("create-split", _construct(WhatsAppCreateCampaignOperator, conn_id="whatomate_default", name="n",
                                    template="t", recipients=["+14155550101"], split="halves"), "split", "'halves'"),
    Case("create-on_invalid", _construct(WhatsAppCreateCampaignOperator, conn_id="whatomate_default", name="n",
                                         template="t", recipients=["+14155550101"], on_invalid="ignore"),
         "on_invalid", "'ignore'"),
    Case("create-vendor_options", _construct(WhatsAppCreateCampaignOperator, conn_id="whatomate_default", name="n",
                                             template="t", recipients=["+14155550101"], vendor_options=["x"]),
         "vendor_options"),
    # ------------------------------------------------------------ create: recipients
    Case("recipients-int", _create(recipients=5), "recipients", "int"),
    Case("recipients-nul-path", _create(recipients="data/rec\x00ipients.csv"), "recipients"),
    Case("recipients-long-path", _create(recipients="r" * 5000 + ".csv"), "recipients"),
    Case("recipients-latin1", _create_from_file("latin1.csv", "phone,name\n+14155550101,José\n".encode("latin-1")),
         "recipients", "line 2"),
    Case("recipients-huge-field",
         _create_from_file("huge.csv", b"phone,name\n+14155550101," + b"x" * 200_000 + b"\n"),
         "recipients", "line 2"),
    Case("recipients-no-phone-column", _create_from_file("cols.csv", b"name,city\nAnn,Rome\n"), "phone"),
    # ------------------------------------------------------------ stats, export, transactional
    Case("stats-options-not-mapping", _stats("waplify_default", WHM_ID, stats_options="x"), "stats_options"),
    Case("stats-options-unknown", _stats("waplify_default", WHM_ID, stats_options={"colour": "red"}), "colour"),
    Case("insider-stats-options-unknown", _stats("insider_whatsapp_default", "7", stats_options={"x": 1}), "x"),
    Case("export-format", _construct(WhatsAppExportContactsOperator, conn_id="whatomate_default", campaign_id=WHM_ID,
                                     path="x.csv", file_format="xml"), "file_format", "'xml'"),
    Case("export-log_every", _construct(WhatsAppExportContactsOperator, conn_id="whatomate_default",
                                        campaign_id=WHM_ID, path="x.csv", log_every=0), "log_every"),
    Case("export-path-nul",
         lambda env: WhatsAppExportContactsOperator(task_id="t", conn_id="whatomate_default", campaign_id=WHM_ID,
                                                    path="out\x00.csv").execute(context()),
         "path"),
    Case("export-contact_options-unknown",
         lambda env: WhatsAppExportContactsOperator(task_id="t", conn_id="sprl_default", campaign_id="demo-campaign",
                                                    path=str(env.tmp_path / "o.csv"),
                                                    contact_options={"per_page": 500}).execute(context()),
         "per_page", "500"),
    Case("transactional-start_time",
         lambda env: InsiderTransactionalStatsOperator(task_id="t", start_time="yesterday-ish",
                                                       end_time="2024-01-02").execute(context()),
         "start_time"),
    Case("transactional-accounts",
         lambda env: InsiderTransactionalStatsOperator(task_id="t", start_time="2024-01-01", end_time="2024-01-02",
                                                       accounts=42).execute(context()),
         "accounts"),
]


def total_requests(sandbox: Any) -> int:
    """Every request the sandbox received outside its admin API, routed to a vendor or not."""
    return int(sandbox.admin.counters()["total_requests"])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_before_any_request(case, sandbox, sandbox_conns, airflow_conn, tmp_path):
    with pytest.raises(case.error) as info:
        case.run(Env(sandbox, airflow_conn, tmp_path))
    assert type(info.value) is case.error or isinstance(info.value, case.error)
    message = str(info.value)
    assert case.field in message, f"message does not name {case.field!r}: {message}"
    if case.shows is not None:
        assert case.shows in message, f"message does not show the bad value {case.shows!r}: {message}"
    assert total_requests(sandbox) == 0, f"a request reached the vendor: {sandbox.admin.counters()['requests']}"


def test_case_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)
