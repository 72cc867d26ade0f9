"""Record the usage of an OpenAI client's calls automatically.

``track_openai(client, usage, operation="script-generation")`` wraps, on that client instance:

- ``client.chat.completions.create``: one event per call from ``response.usage``. With
  ``stream=True`` the wrapper adds ``stream_options={"include_usage": True}`` and records from
  the final chunk; if you did not ask for that option yourself, the extra usage-only chunk
  (whose ``choices`` is empty) is not passed on, so loops doing ``chunk.choices[0]`` keep working.
- ``client.responses.create`` (streams: from the ``response.completed`` event),
- ``client.embeddings.create``,
- ``client.audio.speech.create`` (characters of ``input``).

Works with ``OpenAI`` and ``AsyncOpenAI`` and with either usage client. Per call, pass
``usage_fields={"job_id": "clip-42", ...}`` to add fields to that call's event (the wrapper
removes it before calling OpenAI). Calls that raise record nothing. Recording never breaks the
call: a failure to record goes to the usage client's ``on_error``.

With ``guard=True`` (or an estimate function, or a fixed guard request) every wrapped call first
reserves its estimate (``usage.reserve``): on a deny it raises ``BudgetExceeded`` and OpenAI is
not called; otherwise the call's event is recorded with the reservation's id, which settles it
(the actual cost counts, the estimate is released), and a call that raises releases it. When
the tracker cannot be reached the usage client's policy applies (``fail_open``).
"""

from __future__ import annotations

import functools
import inspect
import math
import time
from typing import Any, Callable, Dict, Mapping, Optional, Union

from .helpers import _get, from_openai_chat, from_openai_responses, from_openai_tts

__all__ = ["track_openai", "estimate_openai_request", "DEFAULT_OUTPUT_TOKENS"]

#: Output tokens a guard estimates for a call that sets no ``max_tokens`` /
#: ``max_completion_tokens`` / ``max_output_tokens`` (set one for a true upper bound).
DEFAULT_OUTPUT_TOKENS = 1024

GuardOption = Union[None, bool, Mapping[str, Any], Callable[[Dict[str, Any]], Any]]


def _text_length(value: Any) -> int:
    """Characters of the text in a prompt: a string, a list of messages or content parts."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sum(_text_length(v) for v in value)
    if isinstance(value, Mapping):
        return sum(_text_length(value.get(k)) for k in ("content", "text", "input", "instructions"))
    return 0


def estimate_openai_request(kind: str, kwargs: Mapping[str, Any]) -> Dict[str, Any]:
    """An estimate event for an OpenAI call from its arguments, before it is made: the model,
    input tokens as a quarter of the prompt's characters (rounded up), output tokens as the
    call's ``max_completion_tokens`` / ``max_tokens`` / ``max_output_tokens`` (else
    ``DEFAULT_OUTPUT_TOKENS``). Speech: the exact characters of ``input``. ``kind`` is
    ``chat``, ``completions``, ``responses``, ``embeddings`` or ``tts``."""
    model = kwargs.get("model")
    if kind == "tts":
        return {"provider": "openai", "model": model, "characters": len(kwargs.get("input") or "")}
    if kind == "responses":
        prompt = _text_length(kwargs.get("input")) + _text_length(kwargs.get("instructions"))
    elif kind == "completions":
        prompt = _text_length(kwargs.get("prompt"))
    elif kind == "embeddings":
        prompt = _text_length(kwargs.get("input"))
    else:
        prompt = _text_length(kwargs.get("messages"))
    event: Dict[str, Any] = {"provider": "openai", "model": model, "input_tokens": math.ceil(prompt / 4)}
    if kind != "embeddings":
        limit = next((kwargs[k] for k in ("max_completion_tokens", "max_tokens", "max_output_tokens") if isinstance(kwargs.get(k), int)), None)
        event["output_tokens"] = limit if limit is not None else DEFAULT_OUTPUT_TOKENS
    return {k: v for k, v in event.items() if v is not None}


def _guard_request(guard: GuardOption, kind: str, kwargs: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """What to reserve for one call (``reserve()``'s keyword arguments), or None to not guard."""
    if guard is None or guard is False:
        return None
    if guard is True:
        value: Any = estimate_openai_request(kind, kwargs)
    elif callable(guard):
        value = guard(dict(kwargs))
    else:
        value = guard
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError("track_openai: a guard gives an estimate event or {'estimate'|'profile'|'amount': ...}")
    if "provider" in value:
        return {"estimate": dict(value)}
    return {k: value[k] for k in ("estimate", "profile", "units", "amount", "ttl_seconds") if k in value}


def track_openai(
    client: Any,
    usage_client: Any,
    operation: Optional[str] = None,
    *,
    guard: GuardOption = None,
    guard_ttl_seconds: Optional[int] = None,
    **defaults: Any,
) -> Any:
    """Wraps ``client``'s usage-bearing methods in place and returns ``client``.

    ``operation`` and ``defaults`` (e.g. ``session_id=``, ``metadata=``) go into every event.

    ``guard``: ``True`` reserves ``estimate_openai_request(kind, kwargs)`` before each call; a
    function of the call's keyword arguments returns an estimate event, or a guard request
    (``{"amount": {...}}``, ``{"profile": "clip", "units": 1}``), or None to not guard that
    call; a dict is a fixed guard request. ``guard_ttl_seconds`` is the reservations' TTL."""
    base: Dict[str, Any] = dict(defaults)
    if operation is not None:
        base["operation"] = operation
    if guard is not None and guard is not False and not callable(getattr(usage_client, "reserve", None)):
        raise TypeError("track_openai: guard needs a usage client with reserve() (UsageClient or AsyncUsageClient)")

    def report(e: Exception) -> None:
        reporter = getattr(usage_client, "report_error", None)
        if callable(reporter):
            reporter(e)

    def record(make: Callable[[], Dict[str, Any]]) -> None:
        try:
            usage_client.record(make())
        except Exception as e:  # never break the caller's OpenAI call
            report(e)

    guarding = _Guarding(usage_client, guard, guard_ttl_seconds, report) if guard is not None and guard is not False else None

    targets = [
        (("chat", "completions"), "chat"),
        (("completions",), "completions"),
        (("responses",), "responses"),
        (("embeddings",), "embeddings"),
        (("audio", "speech"), "tts"),
    ]
    for path, kind in targets:
        resource: Any = client
        for name in path:
            resource = getattr(resource, name, None)
            if resource is None:
                break
        original = getattr(resource, "create", None) if resource is not None else None
        if original is None or getattr(original, "_ai_spend_tracked", False):
            continue
        wrapper = _wrap(original, kind, base, record, guarding)
        wrapper._ai_spend_tracked = True  # type: ignore[attr-defined]
        setattr(resource, "create", wrapper)
    return client


class _Guarding:
    """Reserves before a call and releases after a failed one, with either usage client."""

    def __init__(self, usage_client: Any, guard: GuardOption, ttl: Optional[int], report: Callable[[Exception], None]):
        self.usage = usage_client
        self.guard = guard
        self.ttl = ttl
        self.report = report
        self.is_async = inspect.iscoroutinefunction(getattr(usage_client, "reserve", None))

    def request(self, kind: str, kwargs: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        request = _guard_request(self.guard, kind, kwargs)
        if request is not None and self.ttl is not None:
            request.setdefault("ttl_seconds", self.ttl)
        return request

    def release(self, reservation: Any) -> None:
        if reservation is None:
            return
        try:
            self.usage.release(reservation.id)
        except Exception as e:  # the reservation lapses at its TTL anyway
            self.report(e)

    async def arelease(self, reservation: Any) -> None:
        if reservation is None:
            return
        try:
            await self.usage.release(reservation.id)
        except Exception as e:
            self.report(e)


def _event_maker(kind: str, base: Dict[str, Any], fields: Dict[str, Any], kwargs: Dict[str, Any]) -> Callable[[Any, int], Dict[str, Any]]:
    extras = {**base, **fields}
    if isinstance(base.get("metadata"), dict) and isinstance(fields.get("metadata"), dict):
        extras["metadata"] = {**base["metadata"], **fields["metadata"]}

    def make(result: Any, duration_ms: int) -> Dict[str, Any]:
        more = {"duration_ms": duration_ms, **extras}
        if kind == "responses":
            return from_openai_responses(result, **more)
        if kind == "tts":
            return from_openai_tts({"model": kwargs.get("model"), "input": kwargs.get("input")}, **more)
        return from_openai_chat(result, **more)  # chat, legacy completions and embeddings

    return make


def _prepare(kind: str, kwargs: Dict[str, Any]) -> bool:
    """Adds include_usage to chat streams; answers whether to hide the usage-only chunk."""
    if kind not in ("chat", "completions") or not kwargs.get("stream"):
        return False
    options = dict(kwargs.get("stream_options") or {})
    asked = options.get("include_usage") is True
    options["include_usage"] = True
    kwargs["stream_options"] = options
    return not asked


def _wrap(
    original: Callable[..., Any],
    kind: str,
    base: Dict[str, Any],
    record: Callable[[Callable[[], Dict[str, Any]]], None],
    guarding: Optional[_Guarding] = None,
) -> Callable[..., Any]:
    # One wrapper for both clients: AsyncOpenAI's `create` returns an awaitable (its methods are
    # not always coroutine functions, as the SDK wraps them), so the result decides.
    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        fields = kwargs.pop("usage_fields", None) or {}
        hide = _prepare(kind, kwargs)
        streaming = bool(kwargs.get("stream")) and kind in ("chat", "completions", "responses")
        request = guarding.request(kind, kwargs) if guarding is not None else None
        if request is not None and guarding is not None and guarding.is_async:
            return _guarded_async(original, args, kwargs, kind, base, fields, hide, streaming, record, guarding, request)
        # Raises BudgetExceeded (or TrackerUnavailable, failing closed) before OpenAI is called.
        reservation = guarding.usage.reserve(**request) if request is not None and guarding is not None else None
        make = _event_maker(kind, base, _settling(fields, reservation), kwargs)
        started = time.monotonic()
        try:
            result = original(*args, **kwargs)
        except BaseException:
            if guarding is not None:
                guarding.release(reservation)
            raise
        if inspect.isawaitable(result):

            async def finish() -> Any:
                try:
                    value = await result
                except BaseException:
                    if guarding is not None:
                        guarding.release(reservation)
                    raise
                if streaming:
                    return _AsyncTrackedStream(value, kind, hide, started, make, record)
                record(lambda: make(value, _elapsed(started)))
                return value

            return finish()
        if streaming:
            return _TrackedStream(result, kind, hide, started, make, record)
        record(lambda: make(result, _elapsed(started)))
        return result

    return create


def _settling(fields: Dict[str, Any], reservation: Any) -> Dict[str, Any]:
    """The call's fields, plus the reservation its event settles."""
    return {**fields, "reservation_id": reservation.id} if reservation is not None else fields


async def _guarded_async(
    original: Callable[..., Any],
    args: Any,
    kwargs: Dict[str, Any],
    kind: str,
    base: Dict[str, Any],
    fields: Dict[str, Any],
    hide: bool,
    streaming: bool,
    record: Callable[[Callable[[], Dict[str, Any]]], None],
    guarding: _Guarding,
    request: Dict[str, Any],
) -> Any:
    """The guarded call with an AsyncUsageClient: reserve without blocking the loop, then call."""
    reservation = await guarding.usage.reserve(**request)
    make = _event_maker(kind, base, _settling(fields, reservation), kwargs)
    started = time.monotonic()
    try:
        value = original(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
    except BaseException:
        await guarding.arelease(reservation)
        raise
    if streaming:
        if hasattr(value, "__aiter__"):
            return _AsyncTrackedStream(value, kind, hide, started, make, record)
        return _TrackedStream(value, kind, hide, started, make, record)
    record(lambda: make(value, _elapsed(started)))
    return value


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class _StreamState:
    def __init__(self, kind: str, hide: bool, started: float, make: Callable[[Any, int], Dict[str, Any]], record: Callable[[Callable[[], Dict[str, Any]]], None]):
        self.kind = kind
        self.hide = hide
        self.started = started
        self.make = make
        self.record = record
        self.recorded = False

    def see(self, item: Any) -> bool:
        """Records usage carried by ``item``; answers whether to pass ``item`` on."""
        if self.recorded:
            return True
        if self.kind == "responses":
            if _get(item, "type") in ("response.completed", "response.incomplete", "response.failed"):
                response = _get(item, "response")
                if _get(response, "usage") is not None:
                    self.recorded = True
                    self.record(lambda: self.make(response, _elapsed(self.started)))
            return True
        if _get(item, "usage") is not None:
            self.recorded = True
            self.record(lambda: self.make(item, _elapsed(self.started)))
            choices = _get(item, "choices")
            return not (self.hide and not choices)
        return True


class _TrackedStream:
    """Iterates the OpenAI stream, recording usage when it arrives; everything else is the
    wrapped stream's (``close()``, ``response``, context manager)."""

    def __init__(self, stream: Any, kind: str, hide: bool, started: float, make: Any, record: Any):
        self._stream = stream
        self._state = _StreamState(kind, hide, started, make, record)
        self._iterator: Any = None

    def __iter__(self) -> "_TrackedStream":
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self._stream)
        while True:
            item = next(self._iterator)
            if self._state.see(item):
                return item

    def __enter__(self) -> "_TrackedStream":
        enter = getattr(self._stream, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, *exc: Any) -> Any:
        exit_ = getattr(self._stream, "__exit__", None)
        return exit_(*exc) if exit_ is not None else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _AsyncTrackedStream:
    """The asyncio twin of ``_TrackedStream``."""

    def __init__(self, stream: Any, kind: str, hide: bool, started: float, make: Any, record: Any):
        self._stream = stream
        self._state = _StreamState(kind, hide, started, make, record)
        self._iterator: Any = None

    def __aiter__(self) -> "_AsyncTrackedStream":
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._stream.__aiter__()
        while True:
            item = await self._iterator.__anext__()
            if self._state.see(item):
                return item

    async def __aenter__(self) -> "_AsyncTrackedStream":
        enter = getattr(self._stream, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        exit_ = getattr(self._stream, "__aexit__", None)
        return (await exit_(*exc)) if exit_ is not None else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
