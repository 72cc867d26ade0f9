"""Clients that send usage events to ai-spend-tracker (``POST /api/usage``).

Standard library only. ``UsageClient`` is synchronous (a daemon thread flushes on a timer);
``AsyncUsageClient`` is for asyncio (the stdlib HTTP call runs in a thread via
``asyncio.to_thread``). Both:

- give every event an ``id`` (a UUID, the idempotency key) and a ``timestamp`` when it has none,
  and keep both on every retry, so the server stores and counts each event once;
- send batches of ``batch_size`` events, when a batch is full and every ``flush_interval``
  seconds, and on ``flush()`` / ``close()``;
- retry 408, 425, 429, 5xx, network errors and timeouts with exponential backoff and jitter
  (at least the server's ``retry-after``), ``max_retries`` times;
- hold at most ``max_buffer`` unsent events; beyond that new events are dropped, counted in
  ``dropped`` and reported to ``on_drop(events, reason, error)``.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import random
import socket
import threading
import time
import uuid
import weakref
import http.client
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Dict, Generator, List, Mapping, Optional, Tuple

__all__ = [
    "UsageClient",
    "AsyncUsageClient",
    "UsageApiError",
    "BudgetExceeded",
    "TrackerUnavailable",
    "GuardWarning",
    "Reservation",
    "FlushResult",
    "urllib_transport",
    "new_event_id",
    "utc_now_iso",
]

#: Why events were dropped: the buffer was full; the server refused them and retrying cannot
#: help (400, 401, 403, 404, 413, ...); every retry of a retryable failure failed.
DROP_REASONS = ("buffer_full", "rejected", "retries_exhausted")

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

Transport = Callable[[str, Dict[str, str], bytes, float], Tuple[int, Dict[str, str], str]]


class UsageApiError(Exception):
    """An error answer of the API, or a failure to reach it (``status`` 0)."""

    def __init__(self, message: str, status: int, code: str, details: List[dict], retryable: bool):
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details
        self.retryable = retryable


class _NetworkError(Exception):
    pass


def _describe_limit(limit: Optional[Mapping[str, Any]]) -> str:
    if not isinstance(limit, Mapping):
        return "a limit would be crossed"
    name = f"{limit.get('kind')} {limit['plan']}" if limit.get("plan") else str(limit.get("kind"))
    unit = limit.get("currency") or limit.get("unit") or ""
    text = f"{name} {limit.get('limit')} {unit}: spent {limit.get('spent')}, reserved {limit.get('reserved')}, would remain {limit.get('remaining')}"
    return " ".join(text.split())


class BudgetExceeded(Exception):
    """A guard answered ``deny``: the spend would cross a limit in ``block`` mode. Nothing was
    reserved, and a guarded call was not made. ``limiting`` is the deciding limit (``kind``,
    ``limit``, ``spent``, ``reserved``, ``remaining``, ...), ``limits`` every limit that
    applies, ``answer`` the whole guard answer."""

    def __init__(self, answer: Mapping[str, Any]):
        super().__init__(f"budget exceeded: {_describe_limit(answer.get('limiting'))}")
        self.decision = "deny"
        self.limiting: Optional[dict] = answer.get("limiting")
        self.limits: List[dict] = list(answer.get("limits") or [])
        self.answer = dict(answer)


class TrackerUnavailable(UsageApiError):
    """The tracker could not be reached (network error, timeout, 429/5xx after the retries) and
    the client fails closed (``fail_open=False``). ``__cause__`` is the last failure."""

    def __init__(self, cause: UsageApiError):
        super().__init__(f"ai-spend-tracker unavailable, failing closed: {cause}", cause.status, cause.code, cause.details, cause.retryable)


@dataclass
class GuardWarning:
    """Handed to ``on_guard_warning``: ``kind`` is ``"warn"`` (a reservation granted with a
    ``warn`` decision; ``answer`` is set) or ``"unavailable"`` (the tracker could not be
    reached and the client failed open; ``error`` is set)."""

    kind: str
    message: str
    answer: Optional[dict] = None
    error: Optional[Exception] = None


@dataclass
class Reservation:
    """A granted reservation. Settle it by recording the usage with ``reservation_id=r.id``,
    or ``release(r.id)``; it lapses at ``expires_at``."""

    id: str  #: ``res_...``
    expires_at: str
    answer: dict  #: the whole guard answer (decision ``allow`` or ``warn``, the limits)

    @property
    def decision(self) -> str:
        return self.answer.get("decision", "allow")

    @property
    def limiting(self) -> Optional[dict]:
        return self.answer.get("limiting")

    @property
    def limits(self) -> List[dict]:
        return list(self.answer.get("limits") or [])


_log = logging.getLogger("ai_spend_tracker")


@dataclass
class FlushResult:
    """What one ``flush()`` did."""

    sent: int = 0  #: events the server answered for (stored + duplicates)
    stored: int = 0  #: events stored by this flush
    duplicates: int = 0  #: events the server already had (a retried or re-recorded id)
    dropped: int = 0  #: events given up on during this flush (also sent to ``on_drop``)
    retries: int = 0  #: attempts that were retried
    reports: List[dict] = field(default_factory=list)  #: the server's answer to each request
    errors: List[UsageApiError] = field(default_factory=list)  #: every failure met, recovered or not


def new_event_id() -> str:
    """A random UUID, the default event id."""
    return str(uuid.uuid4())


def utc_now_iso() -> str:
    """Now, ISO 8601 in UTC with milliseconds: ``2025-06-01T12:00:00.000Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _urllib(request: urllib.request.Request, timeout: float) -> Tuple[int, Dict[str, str], str]:
    """Sends with urllib; answers (status, lower-cased headers, text). Raises on no answer."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode("utf-8", "replace")
            return response.status, {k.lower(): v for k, v in response.headers.items()}, text
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace") if e.fp is not None else ""
        return e.code, {k.lower(): v for k, v in (e.headers or {}).items()}, text
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException, OSError) as e:
        raise _NetworkError(str(getattr(e, "reason", e))) from e


def urllib_transport(url: str, headers: Dict[str, str], body: bytes, timeout: float) -> Tuple[int, Dict[str, str], str]:
    """POSTs with urllib; answers (status, lower-cased headers, text). Raises on no answer."""
    return _urllib(urllib.request.Request(url, data=body, headers=headers, method="POST"), timeout)


def _compact(event: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in event.items() if v is not None}


class _Core:
    """State and decisions shared by both clients; performs no I/O itself."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        project_id: Optional[str],
        defaults: Optional[Mapping[str, Any]],
        batch_size: int,
        max_buffer: int,
        max_retries: int,
        retry_base: float,
        retry_max: float,
        timeout: float,
        on_drop: Optional[Callable[[List[dict], str, Optional[Exception]], None]],
        on_error: Optional[Callable[[Exception], None]],
        transport: Optional[Transport],
        fail_open: bool = True,
        on_guard_warning: Optional[Callable[[GuardWarning], None]] = None,
    ):
        if not isinstance(base_url, str) or not base_url:
            raise TypeError("base_url is required (e.g. http://127.0.0.1:8787)")
        if not isinstance(api_key, str) or not api_key:
            raise TypeError("api_key is required (a project key ast_...)")
        if not isinstance(batch_size, int) or not 1 <= batch_size <= 1000:
            raise ValueError("batch_size must be an integer from 1 to 1000")
        if not isinstance(max_buffer, int) or max_buffer < 1:
            raise ValueError("max_buffer must be a positive integer")
        self.url = base_url.rstrip("/") + "/api/usage"
        self.headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json", "user-agent": "ai-spend-tracker-python/0.1"}
        self.project_id = project_id
        self.defaults = dict(defaults or {})
        self.batch_size = batch_size
        self.max_buffer = max_buffer
        self.max_retries = max_retries
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.timeout = timeout
        self.on_drop = on_drop
        self.on_error = on_error
        self.transport: Transport = transport or urllib_transport
        self.fail_open = fail_open
        self.on_guard_warning = on_guard_warning
        self.guard_state: Optional[dict] = None
        self.buffer: List[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.stats = {"recorded": 0, "stored": 0, "duplicates": 0, "dropped": 0, "retries": 0}

    # -- recording -------------------------------------------------------------------------

    def add(self, event: Mapping[str, Any], reservation_id: Optional[str] = None) -> Tuple[str, bool]:
        """Buffers one event; answers its id and whether a full batch is waiting."""
        if not isinstance(event, Mapping):
            raise TypeError("an event is a dict (see the helpers: from_openai_chat, ...)")
        provider = event.get("provider")
        if not isinstance(provider, str) or not provider.strip():
            raise TypeError("an event needs a `provider`")
        full = _compact({**self.defaults, **_compact(event)})
        if isinstance(self.defaults.get("metadata"), Mapping) and isinstance(event.get("metadata"), Mapping):
            full["metadata"] = {**self.defaults["metadata"], **event["metadata"]}
        if reservation_id:
            full["reservation_id"] = reservation_id
        full.setdefault("id", new_event_id())
        # The time of the call, unless the event has one (`request_timestamp` is the same
        # field under seed 004's column name: sending both is refused).
        if "timestamp" not in full and "request_timestamp" not in full:
            full["timestamp"] = utc_now_iso()
        if self.project_id and "project_id" not in full:
            full["project_id"] = self.project_id
        with self.lock:
            self.stats["recorded"] += 1
            if len(self.buffer) >= self.max_buffer:
                full_buffer = True
            else:
                full_buffer = False
                self.buffer.append(full)
            batch_ready = len(self.buffer) >= self.batch_size
        if full_buffer:
            self.drop([full], "buffer_full", None, None)
        return full["id"], batch_ready

    def take(self) -> List[dict]:
        with self.lock:
            batch = self.buffer[: self.batch_size]
            del self.buffer[: self.batch_size]
            self.in_flight += len(batch)
            return batch

    def done(self, batch: List[dict]) -> None:
        with self.lock:
            self.in_flight -= len(batch)

    def buffered(self) -> int:
        with self.lock:
            return len(self.buffer)

    # -- reporting -------------------------------------------------------------------------

    def drop(self, events: List[dict], reason: str, error: Optional[Exception], result: Optional[FlushResult]) -> None:
        if not events:
            return
        with self.lock:
            self.stats["dropped"] += len(events)
        if result is not None:
            result.dropped += len(events)
        if self.on_drop is not None:
            try:
                self.on_drop(events, reason, error)
            except Exception as e:  # a throwing callback must not break delivery
                self.report(e, None)

    def report(self, error: Exception, result: Optional[FlushResult]) -> None:
        if result is not None and isinstance(error, UsageApiError):
            result.errors.append(error)
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                pass

    # -- delivery (sans I/O) ---------------------------------------------------------------

    def deliver(self, initial: List[dict], result: FlushResult) -> Generator[Tuple[str, Any], Any, None]:
        """Drives one batch to an answer. Yields ``("post", body)`` and expects back
        ``(status, headers, text)`` or the exception raised; yields ``("sleep", seconds)``."""
        queue = [initial]
        while queue:
            events = queue.pop(0)
            attempt = 0
            while True:
                body = json.dumps({"events": events}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
                reply = yield ("post", body)
                retry_after = None
                if isinstance(reply, BaseException):
                    timed_out = isinstance(reply, (socket.timeout, TimeoutError)) or "timed out" in str(reply)
                    error = UsageApiError(
                        f"ai-spend-tracker unreachable: {reply}", 0, "timeout" if timed_out else "network_error", [], True
                    )
                    status = 0
                else:
                    status, headers, text = reply
                    if status in (200, 201):
                        report = json.loads(text)
                        result.reports.append(report)
                        result.sent += len(events)
                        result.stored += report.get("stored", 0)
                        result.duplicates += report.get("duplicates", 0)
                        with self.lock:
                            self.stats["stored"] += report.get("stored", 0)
                            self.stats["duplicates"] += report.get("duplicates", 0)
                            if isinstance(report.get("guard"), dict):
                                self.guard_state = report["guard"]
                        break
                    error = self._api_error(status, text)
                    retry_after = headers.get("retry-after")
                self.report(error, result)
                if error.retryable:
                    attempt += 1
                    if attempt > self.max_retries:
                        self.drop(events, "retries_exhausted", error, result)
                        break
                    result.retries += 1
                    with self.lock:
                        self.stats["retries"] += 1
                    yield ("sleep", self._backoff(attempt, retry_after))
                    continue
                if status == 413 and len(events) > 1:
                    half = (len(events) + 1) // 2
                    queue[0:0] = [events[:half], events[half:]]
                    break
                if status == 400 and error.details and all(isinstance(d.get("index"), int) for d in error.details):
                    bad = {d["index"] for d in error.details}
                    named = [e for i, e in enumerate(events) if i in bad]
                    if named:
                        # All or nothing on the server: drop the events it named, resend the rest.
                        self.drop(named, "rejected", error, result)
                        events = [e for i, e in enumerate(events) if i not in bad]
                        if not events:
                            break
                        continue
                self.drop(events, "rejected", error, result)
                break

    @staticmethod
    def _api_error(status: int, text: str) -> UsageApiError:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        err = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
        retryable = status in RETRYABLE_STATUS or err.get("retryable") is True
        details = err.get("details") if isinstance(err.get("details"), list) else []
        message = err.get("message") or text[:200]
        return UsageApiError(f"ai-spend-tracker answered {status}: {message}", status, err.get("code") or f"http_{status}", details, retryable)

    def _backoff(self, attempt: int, retry_after: Optional[str]) -> float:
        exp = self.retry_base * (2 ** (attempt - 1))
        delay = exp / 2 + random.random() * exp / 2
        if retry_after:
            asked: Optional[float]
            try:
                asked = float(retry_after)
            except ValueError:
                try:
                    asked = parsedate_to_datetime(retry_after).timestamp() - time.time()
                except (TypeError, ValueError):
                    asked = None
            if asked is not None and asked > delay:
                delay = asked
        return max(0.0, min(delay, self.retry_max))


def _unreachable(e: BaseException) -> UsageApiError:
    timed_out = isinstance(e, (socket.timeout, TimeoutError)) or "timed out" in str(e)
    return UsageApiError(f"ai-spend-tracker unreachable: {e}", 0, "timeout" if timed_out else "network_error", [], True)


def _send(core: "_Core", method: str, url: str, body: Optional[bytes] = None) -> Tuple[int, str]:
    """One request, retried like a batch (408, 425, 429, 5xx, network errors, timeouts; the same
    body each time). Answers a non-retryable (status, text); raises the last (retryable)
    ``UsageApiError`` when out of retries."""
    attempt = 0
    while True:
        retry_after: Optional[str] = None
        try:
            if method == "POST":
                status, headers, text = core.transport(url, dict(core.headers), body or b"", core.timeout)
            else:
                headers_out = {k: v for k, v in core.headers.items() if k != "content-type"}
                status, headers, text = _urllib(urllib.request.Request(url, headers=headers_out, method=method), core.timeout)
            if status < 400:
                return status, text
            error = _Core._api_error(status, text)
            if not error.retryable:
                return status, text
            retry_after = headers.get("retry-after")
        except Exception as e:  # no answer: as deliver() does, whatever the transport raised
            error = _unreachable(e.__cause__ if isinstance(e, _NetworkError) and e.__cause__ else e)
        core.report(error, None)
        attempt += 1
        if attempt > core.max_retries:
            raise error
        with core.lock:
            core.stats["retries"] += 1
        time.sleep(core._backoff(attempt, retry_after))


def _guard_body(core: "_Core", what: str, estimate: Optional[Mapping[str, Any]], profile: Optional[str], units: Optional[float], amount: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if sum(x is not None for x in (estimate, profile, amount)) != 1:
        raise TypeError(f"{what}: give exactly one of `estimate`, `profile` (+ `units`), `amount`")
    body: Dict[str, Any] = {}
    if estimate is not None:
        if not isinstance(estimate, Mapping):
            raise TypeError(f"{what}: `estimate` is an event dict (provider, model, quantities)")
        body["estimate"] = _compact(estimate)
    if profile is not None:
        body["profile"] = profile
        if units is not None:
            body["units"] = units
    if amount is not None:
        if not isinstance(amount, Mapping) or "amount" not in amount or "currency" not in amount:
            raise TypeError(f'{what}: `amount` is {{"amount": "0.50", "currency": "USD"}}')
        if isinstance(amount["amount"], float):
            raise TypeError(f"{what}: money is never a float; give the amount as text or a Decimal")
        body["amount"] = {"amount": str(amount["amount"]), "currency": amount["currency"]}
    if core.project_id:
        body["project_id"] = core.project_id
    return body


def _warn(core: "_Core", warning: GuardWarning) -> None:
    try:
        if core.on_guard_warning is not None:
            core.on_guard_warning(warning)
        else:
            _log.warning("%s", warning.message)
    except Exception as e:
        core.report(e, None)


def _ask_guard(core: "_Core", body: Dict[str, Any]) -> Any:
    """Posts a guard body; answers the answer, or the failure when unreachable and failing open."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        status, text = _send(core, "POST", core.url + "/guard", data)
    except UsageApiError as e:
        if not core.fail_open:
            raise TrackerUnavailable(e) from e
        _warn(core, GuardWarning("unavailable", f"ai-spend-tracker guard unavailable, failing open: {e}", error=e))
        return e
    if status != 200:
        raise _Core._api_error(status, text)
    return json.loads(text)


def _guard(core: "_Core", estimate: Any, profile: Any, units: Any, amount: Any) -> dict:
    answer = _ask_guard(core, _guard_body(core, "guard", estimate, profile, units, amount))
    if isinstance(answer, UsageApiError):
        return {"decision": "allow", "limiting": None, "limits": [], "estimate": None, "reservation": None, "unavailable": True, "error": answer}
    return answer


def _reserve(core: "_Core", estimate: Any, profile: Any, units: Any, amount: Any, ttl_seconds: Optional[int], id: Optional[str]) -> Optional[Reservation]:
    body = _guard_body(core, "reserve", estimate, profile, units, amount)
    body["reserve"] = True
    body["id"] = id or new_event_id()  # one id for every retry: never two reservations
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    answer = _ask_guard(core, body)
    if isinstance(answer, UsageApiError):
        return None
    if answer.get("decision") == "deny":
        raise BudgetExceeded(answer)
    if answer.get("decision") == "warn":
        _warn(core, GuardWarning("warn", f"ai-spend-tracker guard warns: {_describe_limit(answer.get('limiting'))}", answer=answer))
    reservation = answer.get("reservation")
    if not isinstance(reservation, dict) or not reservation.get("id"):
        raise UsageApiError("ai-spend-tracker granted the guard but answered no reservation", 200, "no_reservation", [], False)
    return Reservation(reservation["id"], reservation.get("expires_at", ""), answer)


def _release(core: "_Core", reservation_id: str) -> bool:
    if not isinstance(reservation_id, str) or not reservation_id:
        raise TypeError("release: a reservation id is required")
    url = core.url + "/guard/" + urllib.parse.quote(reservation_id, safe="")
    if core.project_id:
        url += "?" + urllib.parse.urlencode({"project_id": core.project_id})
    status, text = _send(core, "DELETE", url)
    if status == 200:
        return json.loads(text).get("released") is True
    if status == 404:
        return False
    raise _Core._api_error(status, text)


def _budget(core: "_Core") -> Optional[dict]:
    """GET /api/usage/stats with the client's key; answers its ``budget`` member."""
    headers = {k: v for k, v in core.headers.items() if k != "content-type"}
    request = urllib.request.Request(core.url + "/stats", headers=headers, method="GET")
    try:
        status, _, text = _urllib(request, core.timeout)
    except _NetworkError as e:
        raise UsageApiError(f"ai-spend-tracker unreachable: {e}", 0, "network_error", [], True) from e
    if status != 200:
        raise _Core._api_error(status, text)
    return json.loads(text).get("budget")


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        project_id: Optional[str] = None,
        defaults: Optional[Mapping[str, Any]] = None,
        batch_size: int = 100,
        flush_interval: Optional[float] = 5.0,
        max_buffer: int = 10_000,
        max_retries: int = 4,
        retry_base: float = 0.25,
        retry_max: float = 10.0,
        timeout: float = 10.0,
        on_drop: Optional[Callable[[List[dict], str, Optional[Exception]], None]] = None,
        on_error: Optional[Callable[[Exception], None]] = None,
        transport: Optional[Transport] = None,
        fail_open: bool = True,
        on_guard_warning: Optional[Callable[[GuardWarning], None]] = None,
    ):
        self._core = _Core(
            base_url,
            api_key,
            project_id=project_id,
            defaults=defaults,
            batch_size=batch_size,
            max_buffer=max_buffer,
            max_retries=max_retries,
            retry_base=retry_base,
            retry_max=retry_max,
            timeout=timeout,
            on_drop=on_drop,
            on_error=on_error,
            transport=transport,
            fail_open=fail_open,
            on_guard_warning=on_guard_warning,
        )
        self.flush_interval = flush_interval if flush_interval and flush_interval > 0 else None

    @property
    def dropped(self) -> int:
        """Events dropped since the client was created (see ``on_drop``)."""
        return self._core.stats["dropped"]

    @property
    def pending(self) -> int:
        """Events recorded and not yet answered for (buffered or being sent)."""
        with self._core.lock:
            return len(self._core.buffer) + self._core.in_flight

    @property
    def stats(self) -> Dict[str, int]:
        """Counters since the client was created: recorded, stored, duplicates, dropped, retries."""
        with self._core.lock:
            return dict(self._core.stats)

    @property
    def guard_state(self) -> Optional[dict]:
        """The project's guard state from the last ingest answer (``{"state": "ok" | "warn" |
        "blocked", "limiting": ...}``), or ``None`` before any answer carried one."""
        return self._core.guard_state

    def report_error(self, error: Exception) -> None:
        """Hands an error to ``on_error`` (used by ``track_openai``)."""
        self._core.report(error, None)


class UsageClient(_Base):
    """Synchronous client. ``record()`` buffers and returns the event id; ``flush()`` sends.

    With ``flush_interval`` (seconds, default 5; ``None`` or 0 for none) a daemon thread sends
    buffered events on that period and as soon as a batch is full; without it a full batch is
    sent inside ``record()``. Pending events are flushed at interpreter exit; call ``close()``
    (or use ``with UsageClient(...) as usage:``) to flush and stop the thread yourself.
    """

    def __init__(self, base_url: str, api_key: str, **options: Any):
        super().__init__(base_url, api_key, **options)
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._thread_lock = threading.Lock()
        self._atexit_registered = False

    def record(self, event: Mapping[str, Any], reservation_id: Optional[str] = None) -> str:
        """Buffers one event (a dict, e.g. from a helper) and returns its id. ``reservation_id``
        is sent as the event's ``reservation_id``, which settles that reservation."""
        event_id, batch_ready = self._core.add(event, reservation_id)
        if not self._atexit_registered:
            self._atexit_registered = True
            atexit.register(_flush_at_exit, weakref.ref(self))
        if self.flush_interval is None:
            if batch_ready:
                self.flush()
        else:
            self._ensure_thread()
            if batch_ready:
                self._wake.set()
        return event_id

    def flush(self) -> FlushResult:
        """Sends every buffered event; returns once each is stored, a duplicate or dropped.
        Never raises for delivery problems (see ``FlushResult.errors`` and ``on_drop``)."""
        result = FlushResult()
        with self._send_lock:
            while True:
                batch = self._core.take()
                if not batch:
                    self._core.done(batch)
                    break
                try:
                    self._run(self._core.deliver(batch, result))
                except Exception as e:  # only a bug lands here; never lose events silently
                    self._core.report(e, result)
                    self._core.drop(batch, "rejected", e, result)
                finally:
                    self._core.done(batch)
        return result

    def budget(self) -> Optional[dict]:
        """This project's budget status (spend against its budget and daily limit, with
        ``over_budget`` and ``over_daily_limit``), or ``None`` when it has neither: check it
        before an expensive call to hold back near a limit. Raises ``UsageApiError`` when the
        worker refuses or fails."""
        return _budget(self._core)

    def guard(
        self,
        estimate: Optional[Mapping[str, Any]] = None,
        *,
        profile: Optional[str] = None,
        units: Optional[float] = None,
        amount: Optional[Mapping[str, Any]] = None,
    ) -> dict:
        """Asks whether spending this (exactly one of ``estimate``, an event dict; ``profile``
        with ``units``; ``amount``, ``{"amount": "0.50", "currency": "USD"}``) would cross a
        limit. Answers the guard answer (``decision``, ``limiting``, ``limits``, ``estimate``,
        ``reservation``); a deny is an answer, not an exception. When the tracker cannot be
        reached: with ``fail_open`` an ``allow`` with ``"unavailable": True`` (and a warning),
        else ``TrackerUnavailable``."""
        return _guard(self._core, estimate, profile, units, amount)

    def reserve(
        self,
        estimate: Optional[Mapping[str, Any]] = None,
        *,
        profile: Optional[str] = None,
        units: Optional[float] = None,
        amount: Optional[Mapping[str, Any]] = None,
        ttl_seconds: Optional[int] = None,
        id: Optional[str] = None,
    ) -> Optional[Reservation]:
        """Holds the spend against every limit at once for ``ttl_seconds`` and answers the
        ``Reservation``; settle it with ``record(event, reservation_id=r.id)`` or
        ``release(r.id)``. Raises ``BudgetExceeded`` on a deny (nothing reserved); a ``warn``
        goes to ``on_guard_warning``. Retries resend the same idempotency ``id`` (a new UUID
        unless given). Tracker unreachable: ``None`` with ``fail_open``, else
        ``TrackerUnavailable``."""
        return _reserve(self._core, estimate, profile, units, amount, ttl_seconds, id)

    def release(self, reservation_id: str) -> bool:
        """Releases a reservation: True when it holds nothing now (released by this call, or ended
        already: settled, expired or released), False when the tracker has no reservation of that
        id. Raises ``UsageApiError`` when unreachable."""
        return _release(self._core, reservation_id)

    def close(self) -> FlushResult:
        """Stops the background thread and flushes. The client stays usable (synchronously)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._core.timeout * (self._core.max_retries + 2) + 1)
        with self._thread_lock:
            self._thread = None
            self._stop.clear()
            self._wake.clear()
        return self.flush()

    def __enter__(self) -> "UsageClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, gen: Generator[Tuple[str, Any], Any, None]) -> None:
        core = self._core
        reply: Any = None
        while True:
            try:
                action, arg = gen.send(reply)
            except StopIteration:
                return
            if action == "post":
                try:
                    reply = core.transport(core.url, dict(core.headers), arg, core.timeout)
                except Exception as e:
                    reply = e
            else:
                time.sleep(arg)
                reply = None

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._thread_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop, name="ai-spend-tracker-flush", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._core.buffered():
                try:
                    self.flush()
                except Exception as e:
                    self._core.report(e, None)



def _flush_at_exit(ref: "weakref.ref[UsageClient]") -> None:
    client = ref()
    if client is not None and client.pending:
        client.close()


class AsyncUsageClient(_Base):
    """asyncio client. ``record()`` is synchronous and cheap (it only buffers); a full batch and
    the ``flush_interval`` timer start background flushes on the running loop; ``await
    flush()`` sends everything; ``await aclose()`` (or ``async with``) flushes and stops."""

    def __init__(self, base_url: str, api_key: str, **options: Any):
        super().__init__(base_url, api_key, **options)
        self._lock: Optional[asyncio.Lock] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._tasks: "set[asyncio.Task[Any]]" = set()

    def record(self, event: Mapping[str, Any], reservation_id: Optional[str] = None) -> str:
        """Buffers one event (a dict, e.g. from a helper) and returns its id. ``reservation_id``
        is sent as the event's ``reservation_id``, which settles that reservation."""
        event_id, batch_ready = self._core.add(event, reservation_id)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return event_id  # no loop: sent on the next `await flush()`
        if batch_ready:
            self._spawn_flush()
        elif self.flush_interval is not None and self._timer is None:
            self._timer = loop.call_later(self.flush_interval, self._on_timer)
        return event_id

    async def budget(self) -> Optional[dict]:
        """As ``UsageClient.budget()``, without blocking the event loop."""
        return await asyncio.to_thread(_budget, self._core)

    async def guard(
        self,
        estimate: Optional[Mapping[str, Any]] = None,
        *,
        profile: Optional[str] = None,
        units: Optional[float] = None,
        amount: Optional[Mapping[str, Any]] = None,
    ) -> dict:
        """As ``UsageClient.guard()``, without blocking the event loop."""
        return await asyncio.to_thread(_guard, self._core, estimate, profile, units, amount)

    async def reserve(
        self,
        estimate: Optional[Mapping[str, Any]] = None,
        *,
        profile: Optional[str] = None,
        units: Optional[float] = None,
        amount: Optional[Mapping[str, Any]] = None,
        ttl_seconds: Optional[int] = None,
        id: Optional[str] = None,
    ) -> Optional[Reservation]:
        """As ``UsageClient.reserve()``, without blocking the event loop."""
        return await asyncio.to_thread(_reserve, self._core, estimate, profile, units, amount, ttl_seconds, id)

    async def release(self, reservation_id: str) -> bool:
        """As ``UsageClient.release()``, without blocking the event loop."""
        return await asyncio.to_thread(_release, self._core, reservation_id)

    async def flush(self) -> FlushResult:
        """Sends every buffered event; returns once each is stored, a duplicate or dropped."""
        self._cancel_timer()
        if self._lock is None:
            self._lock = asyncio.Lock()
        result = FlushResult()
        async with self._lock:
            while True:
                batch = self._core.take()
                if not batch:
                    self._core.done(batch)
                    break
                try:
                    await self._run(self._core.deliver(batch, result))
                except asyncio.CancelledError:
                    self._core.done(batch)
                    with self._core.lock:  # put the batch back for the next flush
                        self._core.buffer[0:0] = batch
                    raise
                except Exception as e:
                    self._core.report(e, result)
                    self._core.drop(batch, "rejected", e, result)
                    self._core.done(batch)
                else:
                    self._core.done(batch)
        return result

    async def aclose(self) -> FlushResult:
        """Waits for background flushes, then flushes what is left."""
        self._cancel_timer()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        return await self.flush()

    async def __aenter__(self) -> "AsyncUsageClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def _run(self, gen: Generator[Tuple[str, Any], Any, None]) -> None:
        core = self._core
        reply: Any = None
        while True:
            try:
                action, arg = gen.send(reply)
            except StopIteration:
                return
            if action == "post":
                try:
                    reply = await asyncio.to_thread(core.transport, core.url, dict(core.headers), arg, core.timeout)
                except Exception as e:
                    reply = e
            else:
                await asyncio.sleep(arg)
                reply = None

    def _on_timer(self) -> None:
        self._timer = None
        self._spawn_flush()

    def _spawn_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self._background_flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _background_flush(self) -> None:
        try:
            await self.flush()
        except Exception as e:
            self._core.report(e, None)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
