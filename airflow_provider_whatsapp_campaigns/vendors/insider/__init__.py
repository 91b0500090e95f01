"""Insider One WhatsApp statistics: campaign stats (API key v1 or OAuth v2 gateway) and transactional stats.

Insider is statistics only (no create/start) and reports **no campaign status**: stats come back
with ``status=UNKNOWN`` and ``vendor_status=None``. Whether a campaign is done is a heuristic:
``pending == 0`` and the counters unchanged across polls (the sensor's ``completion="settled"`` mode,
:class:`~airflow_provider_whatsapp_campaigns.waiting.CompletionRule`).

Two response shapes are accepted everywhere: the flat one (``sent, delivered, open, click, …``)
and the wrapped one (``{"data": {"statistics": {"sent", "delivered", "read"}}}``); :func:`unwrap`
turns both into one flat dict before the single mapping table :data:`INSIDER_STATS` applies.
"""
