"""Stream every recipient's status to a CSV or JSON-lines file, atomically, in bounded memory."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_whatsapp_campaigns.operators.common import CampaignOperatorBase
from airflow_provider_whatsapp_campaigns.phones import mask_phone
from airflow_provider_whatsapp_campaigns.vendors.spec import CONTACT_COLUMNS

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

FORMATS = ("csv", "jsonl")


class WhatsAppExportContactsOperator(CampaignOperatorBase):
    """Export per-recipient statuses (SPRL contacts, Whatomate recipients) page by page.

    The file appears only when complete (written under a temporary name, then renamed), so a
    failed or killed task never leaves a half-written export behind. Phones are written in full
    to the file and masked in the logs.

    :param path: local path or ``ObjectStoragePath``; ``.csv`` or ``.jsonl`` picks the format.
    """

    template_fields: Sequence[str] = ("conn_id", "campaign_id", "path", "contact_options")
    verb = "contacts"

    def __init__(
        self,
        *,
        campaign_id: str,
        path: Any,
        file_format: str | None = None,
        contact_options: dict[str, Any] | None = None,
        log_every: int = 10_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if file_format is not None and file_format not in FORMATS:
            raise ValueError(f"file_format must be one of {FORMATS}, got {file_format!r}")
        self.campaign_id = campaign_id
        self.path = path
        self.file_format = file_format
        self.contact_options = contact_options or {}
        self.log_every = max(1, int(log_every))

    def _format(self) -> str:
        if self.file_format:
            return self.file_format
        return "jsonl" if str(self.path).lower().endswith((".jsonl", ".ndjson", ".json")) else "csv"

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook
        hook.require_supported("contacts")
        self.push_campaign_url(context, str(self.campaign_id))
        fmt = self._format()
        started = time.monotonic()
        rows = 0
        with _AtomicWriter(self.path) as handle:
            writer = csv.DictWriter(handle, fieldnames=CONTACT_COLUMNS) if fmt == "csv" else None
            if writer is not None:
                writer.writeheader()
            last_phone = ""
            for raw in hook.iter_contacts(str(self.campaign_id), **self.contact_options):
                row = hook.contact_row(raw)
                if writer is not None:
                    writer.writerow(row)
                else:
                    handle.write(json.dumps(row, default=str) + "\n")
                rows += 1
                last_phone = str(row.get("phone") or "")
                if rows % self.log_every == 0:
                    elapsed = time.monotonic() - started
                    self.log.info(
                        "exported %d rows (%.0f rows/s), last %s",
                        rows,
                        rows / max(elapsed, 1e-9),
                        mask_phone(last_phone),
                    )
        elapsed = time.monotonic() - started
        self.log.info(
            "exported %d rows to %s in %.1f s (%.0f rows/s)", rows, self.path, elapsed, rows / max(elapsed, 1e-9)
        )
        return {"path": str(self.path), "rows": rows, "format": fmt, "campaign_id": str(self.campaign_id)}


class _AtomicWriter:
    """Write to a temporary sibling, rename over the target only on success."""

    def __init__(self, target: Any) -> None:
        self.target: Any = target
        self.tmp: Any = None
        self.local = isinstance(target, (str, os.PathLike)) and "://" not in str(target)

    def __enter__(self) -> io.TextIOBase:
        if self.local:
            directory = os.path.dirname(os.path.abspath(os.fspath(self.target)))
            os.makedirs(directory, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(dir=directory, prefix=".export-", suffix=".partial")
            self.handle: Any = os.fdopen(fd, "w", encoding="utf-8", newline="")
        else:
            from airflow.providers.common.compat.sdk import ObjectStoragePath

            target = self.target if isinstance(self.target, ObjectStoragePath) else ObjectStoragePath(str(self.target))
            self.target = target
            self.tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
            self.handle = self.tmp.open("w", encoding="utf-8", newline="")
        return self.handle  # type: ignore[no-any-return]

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.handle.close()
        if self.local:
            if exc_type is None:
                os.replace(self.tmp, os.fspath(self.target))
            else:
                os.unlink(self.tmp)
        elif exc_type is None:
            self.tmp.rename(self.target)
        else:
            self.tmp.unlink(missing_ok=True)
