"""Turn provider responses into usage events, applying the server's counting rules.

Every helper accepts the SDK's response object (``openai``, ``anthropic`` and ``google-genai``
return pydantic objects with attributes) or the same response as a plain dict (parsed JSON),
and returns an event dict without ``id`` or ``timestamp`` (the client adds both on
``record()``). Keyword arguments are merged in last, so they win: ``operation=``,
``job_id=``, ``session_id=``, ``metadata=``, ``model=``, ...

- OpenAI and Gemini count cached prompt tokens inside the prompt count: ``input_tokens`` is the
  whole prompt, ``cached_input_tokens`` the cached part of it.
- Anthropic reports cache reads and writes on top of ``input_tokens``.
- OpenAI counts reasoning (and audio) tokens inside the completion count; Gemini reports
  thinking tokens (``thoughtsTokenCount``) apart from ``candidatesTokenCount``.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

__all__ = [
    "from_openai_chat",
    "from_openai_responses",
    "from_openai",
    "from_openai_tts",
    "from_anthropic",
    "from_gemini",
    "from_elevenlabs",
    "generic_event",
    "header_value",
]

_MISSING = object()


def _get(obj: Any, *names: str) -> Any:
    """The first present, non-None field of ``obj`` among ``names`` (dict key or attribute)."""
    if obj is None:
        return None
    for name in names:
        if isinstance(obj, Mapping):
            value = obj.get(name, _MISSING)
        else:
            value = getattr(obj, name, _MISSING)
        if value is not _MISSING and value is not None:
            return value
    return None


def _count(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _positive(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _finish(event: Dict[str, Any], extras: Mapping[str, Any]) -> Dict[str, Any]:
    # None extras are ignored (they never erase a field the response gave)
    merged = {**event, **{k: v for k, v in extras.items() if v is not None}}
    if isinstance(event.get("metadata"), Mapping) and isinstance(extras.get("metadata"), Mapping):
        merged["metadata"] = {**event["metadata"], **extras["metadata"]}
    return {k: v for k, v in merged.items() if v is not None}


def _need(value: Any, what: str) -> Any:
    if value is None:
        raise ValueError(f"{what} is missing")
    return value


def from_openai_chat(response: Any, **extras: Any) -> Dict[str, Any]:
    """OpenAI chat completions (also legacy completions, embeddings, and the final chunk of a
    stream made with ``stream_options={"include_usage": True}``)."""
    usage = _need(_get(response, "usage"), "from_openai_chat: response.usage")
    prompt_details = _get(usage, "prompt_tokens_details")
    completion_details = _get(usage, "completion_tokens_details")
    return _finish(
        {
            "provider": "openai",
            "model": _get(response, "model"),
            "input_tokens": _count(_get(usage, "prompt_tokens")) or 0,
            "output_tokens": _count(_get(usage, "completion_tokens")),
            "cached_input_tokens": _positive(_get(prompt_details, "cached_tokens")),
            "audio_input_tokens": _positive(_get(prompt_details, "audio_tokens")),
            "reasoning_tokens": _positive(_get(completion_details, "reasoning_tokens")),
            "audio_output_tokens": _positive(_get(completion_details, "audio_tokens")),
        },
        extras,
    )


def from_openai_responses(response: Any, **extras: Any) -> Dict[str, Any]:
    """OpenAI Responses API (``client.responses.create``, or ``event.response`` of the
    ``response.completed`` stream event)."""
    usage = _need(_get(response, "usage"), "from_openai_responses: response.usage")
    return _finish(
        {
            "provider": "openai",
            "model": _get(response, "model"),
            "input_tokens": _count(_get(usage, "input_tokens")) or 0,
            "output_tokens": _count(_get(usage, "output_tokens")) or 0,
            "cached_input_tokens": _positive(_get(_get(usage, "input_tokens_details"), "cached_tokens")),
            "reasoning_tokens": _positive(_get(_get(usage, "output_tokens_details"), "reasoning_tokens")),
        },
        extras,
    )


def from_openai(response: Any, **extras: Any) -> Dict[str, Any]:
    """Either OpenAI shape, told apart by its usage fields."""
    usage = _need(_get(response, "usage"), "from_openai: response.usage")
    if _get(usage, "prompt_tokens") is not None:
        return from_openai_chat(response, **extras)
    return from_openai_responses(response, **extras)


def from_openai_tts(request: Any, **extras: Any) -> Dict[str, Any]:
    """OpenAI text to speech: the answer is audio, so usage is the number of characters
    (Unicode code points) of the request's ``input``. Pass the arguments you gave
    ``client.audio.speech.create`` as a dict: ``from_openai_tts({"model": "tts-1", "input": text})``."""
    text = _need(_get(request, "input"), "from_openai_tts: request input")
    return _finish({"provider": "openai", "model": _get(request, "model"), "characters": len(text)}, extras)


def from_anthropic(message: Any, **extras: Any) -> Dict[str, Any]:
    """Anthropic Messages API (``client.messages.create``, or ``stream.get_final_message()``).
    Cache reads -> ``cached_input_tokens``, cache writes -> ``cache_write_tokens``, both on top
    of ``input_tokens``."""
    usage = _need(_get(message, "usage"), "from_anthropic: message.usage")
    return _finish(
        {
            "provider": "anthropic",
            "model": _get(message, "model"),
            "input_tokens": _count(_get(usage, "input_tokens")) or 0,
            "output_tokens": _count(_get(usage, "output_tokens")) or 0,
            "cached_input_tokens": _positive(_get(usage, "cache_read_input_tokens")),
            "cache_write_tokens": _positive(_get(usage, "cache_creation_input_tokens")),
        },
        extras,
    )


def _modality_total(details: Any, name: str) -> Optional[int]:
    if not isinstance(details, (list, tuple)):
        return None
    total = 0
    for item in details:
        modality = _get(item, "modality")
        modality = getattr(modality, "value", modality)
        if str(modality).upper() == name:
            total += _count(_get(item, "tokenCount", "token_count")) or 0
    return _positive(total)


def from_gemini(response: Any, **extras: Any) -> Dict[str, Any]:
    """Gemini ``generateContent``: the REST JSON (camelCase), a ``google-genai`` response
    (snake_case attributes), or just its usage metadata. The model is ``model=`` if given, else
    the response's ``modelVersion`` / ``model_version``."""
    meta = _get(response, "usageMetadata", "usage_metadata")
    if meta is None and _get(response, "promptTokenCount", "prompt_token_count") is not None:
        meta = response
    meta = _need(meta, "from_gemini: response.usageMetadata")
    prompt = (_count(_get(meta, "promptTokenCount", "prompt_token_count")) or 0) + (
        _count(_get(meta, "toolUsePromptTokenCount", "tool_use_prompt_token_count")) or 0
    )
    return _finish(
        {
            "provider": "google",
            "model": _get(response, "modelVersion", "model_version") if meta is not response else None,
            "input_tokens": prompt,
            "output_tokens": _count(_get(meta, "candidatesTokenCount", "candidates_token_count")) or 0,
            "cached_input_tokens": _positive(_get(meta, "cachedContentTokenCount", "cached_content_token_count")),
            "reasoning_tokens": _positive(_get(meta, "thoughtsTokenCount", "thoughts_token_count")),
            "audio_input_tokens": _modality_total(_get(meta, "promptTokensDetails", "prompt_tokens_details"), "AUDIO"),
            "audio_output_tokens": _modality_total(_get(meta, "candidatesTokensDetails", "candidates_tokens_details"), "AUDIO"),
        },
        extras,
    )


def header_value(source: Any, name: str) -> Optional[str]:
    """One header, case-insensitively, from a response with ``.headers`` (requests, httpx,
    urllib, the ElevenLabs SDK's raw response) or a headers mapping."""
    if source is None:
        return None
    headers = source.headers if hasattr(source, "headers") and not isinstance(source, Mapping) else source
    if isinstance(headers, Mapping) or hasattr(headers, "items"):
        wanted = name.lower()
        for key, value in headers.items():
            if str(key).lower() == wanted and value is not None:
                return str(value[0] if isinstance(value, (list, tuple)) else value)
        return None
    getter = getattr(headers, "get", None)
    if callable(getter):
        value = getter(name)
        return None if value is None else str(value)
    return None


def from_elevenlabs(response: Any, text: Optional[str] = None, **extras: Any) -> Dict[str, Any]:
    """ElevenLabs text to speech (and other character-billed endpoints): characters from the
    ``character-cost`` response header; ``text`` (the request's text) is counted when the header
    is absent. Pass the request's ``model_id`` as ``model=``."""
    header = header_value(response, "character-cost")
    if header is not None and header.strip().isdigit():
        characters = int(header.strip())
    elif isinstance(text, str):
        characters = len(text)
    else:
        raise ValueError("from_elevenlabs: no `character-cost` header and no `text` to count")
    return _finish({"provider": "elevenlabs", "characters": characters}, extras)


_INTEGER_FIELDS = (
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
    "audio_input_tokens", "audio_output_tokens", "tokens", "characters", "images", "requests", "tracks",
    "duration_ms", "prompt_tokens", "completion_tokens", "cache_read_input_tokens",
    "cache_creation_input_tokens", "cached_tokens", "total_tokens",
)


def generic_event(provider: str, **fields: Any) -> Dict[str, Any]:
    """Any other provider (HeyGen video seconds, Hume audio seconds, Loudly tracks, credits, a
    cost you computed...): checks the quantities and drops ``None`` fields.
    ``generic_event("heygen", model="avatar-iv", video_seconds=42.5, job_id="clip-7")``."""
    if not isinstance(provider, str) or not provider.strip():
        raise ValueError("generic_event: `provider` is required")
    event = _finish({"provider": provider}, fields)
    for name in _INTEGER_FIELDS:
        value = event.get(name)
        if value is not None and _count(value) is None:
            raise ValueError(f"generic_event: `{name}` must be a non-negative integer, got {value!r}")
    return event
