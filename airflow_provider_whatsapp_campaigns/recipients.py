"""Recipients from a list or a CSV / JSON-lines file, validated to E.164 before any request."""

from __future__ import annotations

import ast
import codecs
import csv
import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, overload

import msgspec

from airflow_provider_whatsapp_campaigns._http.transport import UnreadableAnswer, load_json
from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.phones import InvalidPhone, mask_phones_in_text, to_e164
from airflow_provider_whatsapp_campaigns.validation import check_local_path, shown
from airflow_provider_whatsapp_campaigns.vendors.spec import Recipient

PHONE_KEYS = ("phone", "phone_number", "msisdn", "number")
NAME_KEYS = ("name", "recipient_name")
PARAMS_KEYS = ("params", "template_params")
MAX_SHOWN = 10
# One recipient per line: a line this long is not a recipient (and is never read into memory whole).
MAX_LINE_BYTES = 1024 * 1024
SAVE_AS_UTF8 = 'save it as UTF-8 (Excel: "CSV UTF-8"; LibreOffice: character set "Unicode (UTF-8)")'
#: Rejects kept for the report (all are counted).
MAX_KEPT_INVALID = 1000


@dataclass(frozen=True, slots=True)
class ValidatedRecipient(Recipient):
    """A recipient whose phone :func:`load_recipients` already normalized to E.164 (not parsed again)."""


class RecipientSpool(Sequence[Recipient]):
    """Validated recipients spilled to an anonymous temporary file, read back on every iteration.

    The first pass over a recipients file validates every row before anything is sent; keeping a
    million rows in memory meanwhile would cost hundreds of MB, so they wait on disk instead and
    the second pass streams them out batch by batch.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the spool; deleted on close
        self._count = 0
        self._encoder = msgspec.json.Encoder()

    def append(self, recipient: Recipient) -> None:
        self._file.write(self._encoder.encode((recipient.phone, recipient.name, recipient.params)))
        self._file.write(b"\n")
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Recipient]:
        self._file.flush()
        self._file.seek(0)
        decode = msgspec.json.Decoder(tuple[str, str | None, dict[str, str]]).decode
        for line in itertools.islice(self._file, self._count):
            phone, name, params = decode(line)
            yield ValidatedRecipient(phone, name, params)

    @overload
    def __getitem__(self, index: int) -> Recipient: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Recipient]: ...

    def __getitem__(self, index: int | slice) -> Recipient | Sequence[Recipient]:
        if isinstance(index, slice):
            return list(itertools.islice(self, *index.indices(self._count)))
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return next(itertools.islice(self, index % self._count, None))


def _open_binary(source: Any) -> BinaryIO:
    if hasattr(source, "open") and not isinstance(source, str):  # pathlib.Path, ObjectStoragePath
        return source.open("rb")  # type: ignore[no-any-return]
    return open(check_local_path(os.fspath(source), "recipients"), "rb")


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike)) or (hasattr(value, "open") and hasattr(value, "exists"))


class _TextLines:
    """The file's lines as text: UTF-8, a leading byte-order mark dropped (Excel's "CSV UTF-8").

    Anything else is refused naming the line; ``line_no`` is the line last read (csv's own count
    lags by one when it fails inside a line).
    """

    def __init__(self, handle: BinaryIO, label: str) -> None:
        self.handle, self.label, self.line_no = handle, label, 0

    def __iter__(self) -> Iterator[str]:
        while raw := self.handle.readline(MAX_LINE_BYTES + 1):
            self.line_no += 1
            if len(raw) > MAX_LINE_BYTES:
                raise ValidationError(f"recipients: {self.label} line {self.line_no} is longer than {MAX_LINE_BYTES:,} bytes")
            if self.line_no == 1:
                if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    raise ValidationError(f"recipients: {self.label} is UTF-16 or UTF-32; {SAVE_AS_UTF8}")
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValidationError(
                    f"recipients: {self.label} line {self.line_no} is not UTF-8 (byte {exc.start + 1} of the line); "
                    f"{SAVE_AS_UTF8}"
                ) from None


def _rows_from_file(source: Any) -> Iterator[Mapping[str, Any]]:
    label = mask_phones_in_text(shown(str(source)))
    try:
        opened = _open_binary(source)
    except OSError as exc:  # missing, a directory, no permission, a name the OS refuses …
        raise ValidationError(
            f"recipients: cannot read {label} ({exc.strerror or type(exc).__name__}); pass a list of phone "
            "numbers or the path of a CSV / JSON-lines file"
        ) from None
    with opened as handle:
        lines = _TextLines(handle, label)
        if str(source).lower().endswith((".jsonl", ".ndjson", ".json")):
            for line_no, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        yield load_json(line)
                    except UnreadableAnswer as exc:
                        raise ValidationError(f"recipients: {label} line {line_no} is refused: {exc}") from None
                    except ValueError:
                        raise ValidationError(f"recipients: {label} line {line_no} is not valid JSON") from None
            return
        reader = csv.DictReader(lines)
        try:
            _check_header(reader.fieldnames, label)
            yield from reader
        except csv.Error as exc:  # a field over csv's 131,072-character limit, a broken quote …
            raise ValidationError(f"recipients: {label} line {lines.line_no}: {exc}") from None


def _check_header(fieldnames: Sequence[str] | None, label: str) -> None:
    """A CSV without a phone column would fail every row as "empty phone number": say why once."""
    if fieldnames is not None and not set(PHONE_KEYS) & set(fieldnames):
        found = mask_phones_in_text(shown(list(fieldnames)))
        raise ValidationError(
            f"recipients: {label} has no phone column; the first line must name one of "
            f"{', '.join(PHONE_KEYS)} (found {found})"
        )


def _parse_row(row: Any) -> tuple[str, str | None, dict[str, str]]:
    if isinstance(row, Recipient):
        return row.phone, row.name, {str(k): str(v) for k, v in row.params.items()}
    if isinstance(row, (str, int)):
        return str(row), None, {}
    if not isinstance(row, Mapping):
        raise ValueError(f"a recipient must be a phone string or a mapping, got {type(row).__name__}")
    phone = next((row[k] for k in PHONE_KEYS if row.get(k)), "")
    name = next((row[k] for k in NAME_KEYS if row.get(k)), None)
    params = next((row[k] for k in PARAMS_KEYS if isinstance(row.get(k), Mapping)), None)
    if params is None:  # a CSV row: every other non-empty column is a template parameter
        skip = {*PHONE_KEYS, *NAME_KEYS, *PARAMS_KEYS}
        params = {k: v for k, v in row.items() if k not in skip and v not in (None, "")}
    return str(phone), None if name is None else str(name), {str(k): str(v) for k, v in params.items()}


@dataclass(frozen=True)
class NormalizedRecipients:
    """What :func:`normalize_recipients` found: the valid ones (E.164, each once), the rejects, the repeats.

    ``invalid`` keeps the first :data:`MAX_KEPT_INVALID` rejects (memory stays bounded on a huge
    file); ``invalid_count`` counts them all.
    """

    valid: list[Recipient] | RecipientSpool
    invalid: list[InvalidPhone]
    invalid_count: int
    duplicates: int

    def describe_invalid(self) -> str:
        """The first rejects, masked, for an error or a log line."""
        shown = "; ".join(i.describe() for i in self.invalid[:MAX_SHOWN])
        more = f" (and {self.invalid_count - MAX_SHOWN} more)" if self.invalid_count > MAX_SHOWN else ""
        return shown + more


def normalize_recipients(
    items: Iterable[Any], *, default_region: str | None = None, into: RecipientSpool | None = None
) -> NormalizedRecipients:
    """The one recipients normalizer: every item becomes a :class:`Recipient` with an E.164 phone.

    Items: :class:`Recipient`, a phone string (or int), or a mapping — phone from ``phone`` /
    ``phone_number`` / ``msisdn`` / ``number``, name from ``name`` / ``recipient_name``, params from
    ``params`` / ``template_params`` or else every other non-empty column (a CSV row). A number that
    repeats is kept once and counted; invalid ones are reported by 0-based row. Valid recipients
    go to a list, or ``into`` a :class:`RecipientSpool` on disk for a file. No other I/O.
    """
    valid: list[Recipient] | RecipientSpool = into if into is not None else []
    invalid: list[InvalidPhone] = []
    invalid_count = 0
    seen: set[int] = set()  # E.164 numbers as integers: a third of the memory of the strings
    duplicates = 0
    for index, row in enumerate(items):
        phone = ""
        validated: ValidatedRecipient | None = None
        try:
            if isinstance(row, ValidatedRecipient):  # load_recipients validated it already: kept, not copied
                validated, e164 = row, row.phone
            else:
                phone, name, params = _parse_row(row)
                e164 = to_e164(phone, default_region)
        except ValueError as exc:
            invalid_count += 1
            if len(invalid) < MAX_KEPT_INVALID:
                shown = phone if isinstance(row, (Mapping, Recipient)) else str(row)
                invalid.append(InvalidPhone(index, shown, str(exc)))
            continue
        number = int(e164[1:])
        if number in seen:
            duplicates += 1
            continue
        seen.add(number)
        valid.append(validated if validated is not None else ValidatedRecipient(e164, name, params))
    return NormalizedRecipients(valid, invalid, invalid_count, duplicates)


def _parse_rendered_list(text: str) -> list[Any]:
    """A templated list renders as text unless the DAG sets render_template_as_native_obj."""
    try:
        value = load_json(text)
    except UnreadableAnswer as exc:
        raise ValidationError(f"recipients are refused: {exc}") from None
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            raise ValidationError("recipients look like a list but could not be parsed") from None
    if not isinstance(value, list):
        raise ValidationError("recipients must be a list, a CSV path or a JSON-lines path")
    return value


def load_recipients(
    source: Any, *, default_region: str | None = None, on_invalid: str = "fail", log: Any = None
) -> Sequence[Recipient]:
    """Read and validate every recipient first; the error names each bad row (masked).

    A file is read once to validate (its valid rows wait in a :class:`RecipientSpool` on disk) and
    streamed again while sending, so memory stays flat in the file's size; a list stays a list.
    """
    if source is None:
        raise ValidationError("recipients are required: a list of phone numbers or a CSV / JSON-lines path")
    if isinstance(source, str) and source.lstrip().startswith("["):
        source = _parse_rendered_list(source)
    from_file = _is_path(source)
    if not from_file and (isinstance(source, Mapping | bytes) or not isinstance(source, Iterable)):
        raise ValidationError(
            "recipients must be a list of phone numbers (or of dicts with phone/name/params), or the path of a "
            f"CSV / JSON-lines file, got {type(source).__name__}"
        )
    rows: Iterable[Any] = _rows_from_file(source) if from_file else source
    found = normalize_recipients(rows, default_region=default_region, into=RecipientSpool() if from_file else None)
    if found.invalid_count and on_invalid == "fail":
        raise ValidationError(f"{found.invalid_count} invalid recipient(s), nothing was sent: {found.describe_invalid()}")
    if log is not None and (found.invalid_count or found.duplicates):
        shown = found.describe_invalid()
        log.warning(
            "skipped %d invalid and %d duplicate recipient(s)%s",
            found.invalid_count,
            found.duplicates,
            f": {shown}" if shown else "",
        )
    valid = found.valid
    if not valid:
        raise ValidationError("no valid recipients: nothing to send")
    return valid
