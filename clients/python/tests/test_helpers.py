"""The response helpers against the shared fixtures (clients/fixtures), as dicts and as SDK-like
attribute objects; the same expected events as the TypeScript helpers."""

from __future__ import annotations

import re
import unittest
from types import SimpleNamespace

from _support import as_object, fixture

from ai_spend_tracker import (
    from_anthropic,
    from_elevenlabs,
    from_gemini,
    from_openai,
    from_openai_chat,
    from_openai_responses,
    from_openai_tts,
    generic_event,
    header_value,
)

EXPECTED = fixture("expected-events.json")["cases"]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def snake_object(value):
    """camelCase JSON turned into snake_case attribute objects, as google-genai returns."""
    if isinstance(value, dict):
        return SimpleNamespace(**{snake(k): snake_object(v) for k, v in value.items()})
    if isinstance(value, list):
        return [snake_object(v) for v in value]
    return value


def run_case(case, wrap):
    data = fixture(case["fixture"])
    extras = case["extras"]
    call = case["call"]
    if call == "openai_chat":
        return from_openai_chat(wrap(data), **extras)
    if call == "openai_chat_last_chunk":
        chunks = [wrap(c) for c in data]
        with_usage = [c for c in chunks if (c["usage"] if isinstance(c, dict) else c.usage) is not None]
        return from_openai_chat(with_usage[-1], **extras)
    if call == "openai_responses":
        return from_openai_responses(wrap(data), **extras)
    if call == "openai_tts":
        return from_openai_tts(wrap(data), **extras)
    if call == "anthropic":
        return from_anthropic(wrap(data), **extras)
    if call == "gemini":
        return from_gemini(wrap(data), **extras)
    if call == "elevenlabs":
        return from_elevenlabs(data["response"]["headers"], **extras)
    raise AssertionError(f"unknown call {call}")


class FixtureCases(unittest.TestCase):
    def test_each_fixture_as_a_parsed_json_dict_gives_the_expected_event(self):
        self.assertEqual(len(EXPECTED), 9)
        for case in EXPECTED:
            with self.subTest(case["name"]):
                self.assertEqual(run_case(case, lambda d: d), case["event"])

    def test_each_fixture_as_an_sdk_attribute_object_gives_the_same_event(self):
        for case in EXPECTED:
            with self.subTest(case["name"]):
                self.assertEqual(run_case(case, as_object), case["event"])

    def test_gemini_snake_case_attributes_of_google_genai_give_the_same_event(self):
        case = next(c for c in EXPECTED if c["call"] == "gemini")
        response = snake_object(fixture(case["fixture"]))
        self.assertEqual(response.usage_metadata.thoughts_token_count, 944)
        self.assertEqual(from_gemini(response), case["event"])


class HelperRules(unittest.TestCase):
    def test_openai_cached_tokens_stay_inside_input_tokens_and_reasoning_inside_output(self):
        event = from_openai_chat(fixture("openai-chat-completion-reasoning.json"))
        self.assertEqual(event["input_tokens"], 1280)  # prompt_tokens, cached part included
        self.assertEqual(event["cached_input_tokens"], 1024)
        self.assertEqual(event["output_tokens"], 1843)  # completion_tokens, reasoning included
        self.assertEqual(event["reasoning_tokens"], 1536)

    def test_anthropic_cache_reads_and_writes_come_on_top_of_input_tokens(self):
        event = from_anthropic(fixture("anthropic-message-cache-hit.json"))
        self.assertEqual((event["input_tokens"], event["cached_input_tokens"], event["cache_write_tokens"]), (50, 100000, 248))

    def test_gemini_thinking_tokens_are_reported_apart_from_candidates(self):
        event = from_gemini(fixture("gemini-generate-content.json"))
        self.assertEqual((event["output_tokens"], event["reasoning_tokens"]), (231, 944))

    def test_gemini_tool_use_prompt_tokens_and_audio_modalities_are_counted_as_input(self):
        meta = {
            "promptTokenCount": 100,
            "toolUsePromptTokenCount": 40,
            "candidatesTokenCount": 10,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 60}, {"modality": "AUDIO", "tokenCount": 40}],
        }
        self.assertEqual(
            from_gemini(meta, model="gemini-2.5-flash"),
            {"provider": "google", "model": "gemini-2.5-flash", "input_tokens": 140, "output_tokens": 10, "audio_input_tokens": 40},
        )

    def test_the_openai_shape_is_told_apart_by_its_usage_fields(self):
        self.assertEqual(from_openai(fixture("openai-response.json"))["cached_input_tokens"], 1792)
        self.assertEqual(from_openai(fixture("openai-chat-completion.json"))["cached_input_tokens"], 1920)

    def test_openai_embeddings_have_input_tokens_only(self):
        embedding = {"object": "list", "data": [], "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}}
        self.assertEqual(from_openai_chat(embedding), {"provider": "openai", "model": "text-embedding-3-small", "input_tokens": 8})

    def test_tts_counts_code_points_not_utf16_units(self):
        request = fixture("openai-tts-request.json")
        self.assertEqual(from_openai_tts(request)["characters"], 73)
        self.assertEqual(len(request["input"].encode("utf-16-le")) // 2, 74)

    def test_elevenlabs_prefers_the_character_cost_header_and_reads_it_case_insensitively(self):
        headers = fixture("elevenlabs-tts-response.json")["response"]["headers"]
        response = SimpleNamespace(headers={"Content-Type": "audio/mpeg", "Character-Cost": headers["character-cost"]})
        self.assertEqual(from_elevenlabs(response, text="only eleven")["characters"], 49)
        self.assertEqual(header_value(response, "character-cost"), "49")
        self.assertEqual(from_elevenlabs({}, text="eleven char")["characters"], 11)
        with self.assertRaises(ValueError):
            from_elevenlabs({})

    def test_a_response_without_usage_is_refused_with_a_clear_error(self):
        with self.assertRaisesRegex(ValueError, "usage is missing"):
            from_openai_chat({"model": "gpt-4o", "usage": None})
        with self.assertRaisesRegex(ValueError, "usageMetadata is missing"):
            from_gemini({"candidates": []})

    def test_extras_win_and_metadata_is_merged(self):
        event = from_anthropic(fixture("anthropic-message.json"), model="claude-3-5-sonnet", metadata={"scene": 2}, job_id="j")
        self.assertEqual((event["model"], event["metadata"], event["job_id"]), ("claude-3-5-sonnet", {"scene": 2}, "j"))
        kept = from_anthropic(fixture("anthropic-message.json"), model=None, job_id=None)
        self.assertEqual(kept["model"], "claude-3-5-sonnet-20241022", "a None extra never erases a field")
        self.assertNotIn("job_id", kept)

    def test_generic_event_checks_quantities_and_drops_none(self):
        self.assertEqual(
            generic_event("heygen", model="avatar-iv", video_seconds=42.5, job_id=None),
            {"provider": "heygen", "model": "avatar-iv", "video_seconds": 42.5},
        )
        with self.assertRaisesRegex(ValueError, "characters"):
            generic_event("elevenlabs", characters=1.5)
        with self.assertRaises(ValueError):
            generic_event("")


if __name__ == "__main__":
    unittest.main()
