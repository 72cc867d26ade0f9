"""track_openai on stand-ins of the openai SDK's OpenAI and AsyncOpenAI clients (same method
paths, same response shapes as attribute objects, streams that only carry usage when asked
with stream_options.include_usage), recording into the worker under test."""

from __future__ import annotations

import asyncio
import time
import unittest

from _support import as_object, fixture, server, stored_events, unique

from ai_spend_tracker import AsyncUsageClient, UsageClient, track_openai


def stream_chunks(kwargs):
    """What OpenAI streams: the usage-only final chunk only with include_usage."""
    chunks = fixture("openai-chat-stream.json")
    if not (kwargs.get("stream_options") or {}).get("include_usage"):
        chunks = [c for c in chunks if c["usage"] is None]
    return [as_object(c) for c in chunks]


def response_events():
    final = fixture("openai-response.json")
    created = {**final, "status": "in_progress", "usage": None, "output": []}
    return [
        as_object({"type": "response.created", "response": created}),
        as_object({"type": "response.output_text.delta", "delta": "Open on the product"}),
        as_object({"type": "response.completed", "response": final}),
    ]


class FakeStream:
    def __init__(self, items):
        self._items = items
        self.closed = False
        self.response = "http-response"

    def __iter__(self):
        return iter(self._items)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True

    def close(self):
        self.closed = True


class FakeAsyncStream:
    def __init__(self, items):
        self._items = items

    def __aiter__(self):
        async def gen():
            for item in self._items:
                yield item

        return gen()


class Resource:
    def __init__(self, answer):
        self.calls = []
        self._answer = answer

    def create(self, **kwargs):
        self.calls.append(kwargs)
        if kwargs.get("model") == "boom":
            raise RuntimeError("provider error")
        return self._answer(kwargs)


class AsyncResource(Resource):
    async def create(self, **kwargs):  # type: ignore[override]
        return Resource.create(self, **kwargs)


def chat_answer(kwargs):
    time.sleep(0.02)  # so the measured duration is visible
    if kwargs.get("stream"):
        return FakeStream(stream_chunks(kwargs))
    return as_object(fixture("openai-chat-completion.json"))


def responses_answer(kwargs):
    if kwargs.get("stream"):
        return FakeStream(response_events())
    return as_object(fixture("openai-response.json"))


def fake_openai(resource=Resource, stream=FakeStream):
    def wrap_stream(answer):
        def inner(kwargs):
            value = answer(kwargs)
            return stream(list(value)) if isinstance(value, FakeStream) else value

        return inner

    client = as_object({"chat": {}, "audio": {}})
    client.chat.completions = resource(wrap_stream(chat_answer))
    client.responses = resource(wrap_stream(responses_answer))
    client.embeddings = resource(lambda kw: as_object({"object": "list", "data": [], "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}}))
    client.audio.speech = resource(lambda kw: b"ID3...")
    return client


class TrackOpenAI(unittest.TestCase):
    def setUp(self):
        self.s = server()
        self.job = unique("py-track")
        self.usage = UsageClient(self.s["base_url"], self.s["api_key"], flush_interval=None)

    def stored(self):
        self.usage.flush()
        return stored_events(job_id=self.job)

    def test_chat_completions_are_recorded_with_operation_defaults_and_per_call_fields(self):
        client = fake_openai()
        completions = client.chat.completions
        self.assertIs(track_openai(client, self.usage, operation="script-generation", job_id=self.job, metadata={"team": "ads"}), client)
        response = client.chat.completions.create(model="gpt-4o", messages=[], usage_fields={"session_id": "s-9", "metadata": {"scene": 3}})
        self.assertEqual(response.usage.prompt_tokens, 2006, "the provider's response is returned untouched")
        self.assertNotIn("usage_fields", completions.calls[0], "usage_fields never reaches OpenAI")
        [event] = self.stored()
        self.assertEqual(event["usage"], {"input_tokens": 2006, "output_tokens": 300, "cached_input_tokens": 1920})
        self.assertEqual((event["provider"], event["model"], event["operation"], event["session_id"]), ("openai", "gpt-4o-2024-08-06", "script-generation", "s-9"))
        self.assertEqual(event["metadata"], {"team": "ads", "scene": 3})
        self.assertGreaterEqual(event["duration_ms"], 20)

    def test_a_chat_stream_gets_include_usage_and_is_recorded_from_its_final_chunk(self):
        client = fake_openai()
        completions = client.chat.completions
        track_openai(client, self.usage, operation="chat", job_id=self.job)
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
        self.assertEqual(completions.calls[0]["stream_options"], {"include_usage": True})
        with stream as chunks:
            text = "".join(getattr(chunk.choices[0].delta, "content", None) or "" for chunk in chunks)
        self.assertEqual(text, "Hello there!", "the usage-only chunk (no choices) was not passed on")
        self.assertEqual(stream.response, "http-response", "other attributes are the SDK stream's")
        [event] = self.stored()
        self.assertEqual(event["usage"], {"input_tokens": 19, "output_tokens": 3})
        self.assertEqual(event["model"], "gpt-4o-mini-2024-07-18")

    def test_a_stream_that_asked_for_usage_itself_still_sees_the_usage_chunk(self):
        client = track_openai(fake_openai(), self.usage, job_id=self.job)
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True, stream_options={"include_usage": True}))
        self.assertEqual(len(chunks), 5)
        self.assertEqual(chunks[-1].usage.total_tokens, 22)
        self.assertEqual(len(self.stored()), 1)

    def test_responses_embeddings_and_speech_are_recorded_and_failed_calls_are_not(self):
        client = track_openai(fake_openai(), self.usage, job_id=self.job)
        client.responses.create(model="o4-mini", input="hi")
        events = list(client.responses.create(model="o4-mini", input="hi", stream=True))
        self.assertEqual([e.type for e in events], ["response.created", "response.output_text.delta", "response.completed"])
        client.embeddings.create(model="text-embedding-3-small", input="hello")
        client.audio.speech.create(model="tts-1", voice="alloy", input=fixture("openai-tts-request.json")["input"])
        with self.assertRaises(RuntimeError):
            client.chat.completions.create(model="boom", messages=[])
        stored = self.stored()
        usages = sorted((e["model"], tuple(sorted(e["usage"].items()))) for e in stored)
        responses_usage = (("cached_input_tokens", 1792), ("input_tokens", 2075), ("output_tokens", 1186), ("reasoning_tokens", 1024))
        self.assertEqual(
            usages,
            [
                ("o4-mini-2025-04-16", responses_usage),
                ("o4-mini-2025-04-16", responses_usage),
                ("text-embedding-3-small", (("input_tokens", 8),)),
                ("tts-1", (("characters", 73),)),
            ],
        )

    def test_tracking_twice_does_not_record_twice(self):
        client = fake_openai()
        track_openai(client, self.usage, job_id=self.job)
        track_openai(client, self.usage, job_id=self.job)
        client.chat.completions.create(model="gpt-4o", messages=[])
        self.assertEqual(len(self.stored()), 1)

    def test_async_openai_calls_and_streams_are_recorded_by_the_async_client(self):
        job = self.job

        async def main():
            usage = AsyncUsageClient(self.s["base_url"], self.s["api_key"], flush_interval=None)
            client = track_openai(fake_openai(AsyncResource, FakeAsyncStream), usage, operation="async", job_id=job)
            response = await client.chat.completions.create(model="gpt-4o", messages=[])
            seen = [chunk async for chunk in await client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)]
            await usage.aclose()
            return response, seen

        response, seen = asyncio.run(main())
        self.assertEqual(response.model, "gpt-4o-2024-08-06")
        self.assertEqual(len(seen), 4)
        stored = stored_events(job_id=job)
        self.assertEqual(sorted(e["usage"]["input_tokens"] for e in stored), [19, 2006])
        self.assertEqual({e["operation"] for e in stored}, {"async"})


if __name__ == "__main__":
    unittest.main()
