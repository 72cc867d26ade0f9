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
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Callable, Dict, Optional

from .helpers import _get, from_openai_chat, from_openai_responses, from_openai_tts

__all__ = ["track_openai"]


def track_openai(client: Any, usage_client: Any, operation: Optional[str] = None, **defaults: Any) -> Any:
    """Wraps ``client``'s usage-bearing methods in place and returns ``client``.

    ``operation`` and ``defaults`` (e.g. ``session_id=``, ``metadata=``) go into every event."""
    base: Dict[str, Any] = dict(defaults)
    if operation is not None:
        base["operation"] = operation

    def record(make: Callable[[], Dict[str, Any]]) -> None:
        try:
            usage_client.record(make())
        except Exception as e:  # never break the caller's OpenAI call
            reporter = getattr(usage_client, "report_error", None)
            if callable(reporter):
                reporter(e)

    targets = [
        (("chat", "completions"), "chat"),
        (("completions",), "chat"),
        (("responses",), "responses"),
        (("embeddings",), "chat"),
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
        wrapper = _wrap(original, kind, base, record)
        wrapper._ai_spend_tracked = True  # type: ignore[attr-defined]
        setattr(resource, "create", wrapper)
    return client


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
        return from_openai_chat(result, **more)

    return make


def _prepare(kind: str, kwargs: Dict[str, Any]) -> bool:
    """Adds include_usage to chat streams; answers whether to hide the usage-only chunk."""
    if kind != "chat" or not kwargs.get("stream"):
        return False
    options = dict(kwargs.get("stream_options") or {})
    asked = options.get("include_usage") is True
    options["include_usage"] = True
    kwargs["stream_options"] = options
    return not asked


def _wrap(original: Callable[..., Any], kind: str, base: Dict[str, Any], record: Callable[[Callable[[], Dict[str, Any]]], None]) -> Callable[..., Any]:
    # One wrapper for both clients: AsyncOpenAI's `create` returns an awaitable (its methods are
    # not always coroutine functions, as the SDK wraps them), so the result decides.
    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        fields = kwargs.pop("usage_fields", None) or {}
        hide = _prepare(kind, kwargs)
        make = _event_maker(kind, base, fields, kwargs)
        streaming = bool(kwargs.get("stream")) and kind in ("chat", "responses")
        started = time.monotonic()
        result = original(*args, **kwargs)
        if inspect.isawaitable(result):

            async def finish() -> Any:
                value = await result
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
