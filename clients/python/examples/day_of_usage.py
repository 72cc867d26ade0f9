#!/usr/bin/env python3
"""Records a day of mixed AI usage in ai-spend-tracker, then prints what the tracker reports.

A small video-ad studio's last 24 hours: every hour a few clips are made, each clip a job of
several paid calls (an OpenAI script, an Anthropic rewrite with prompt caching, a Gemini shot
list, an ElevenLabs voice-over, a HeyGen avatar video), plus OpenAI TTS previews. The provider
responses are built in the shapes the providers return, and turned into events with the
helpers, exactly as real responses would be.

    npm run dev                                  # the tracker on http://127.0.0.1:8787
    export AST_API_KEY=ast_...                   # a project key (see the README's five-minute tour)
    python3 clients/python/examples/day_of_usage.py

AST_BASE_URL overrides the URL. Running it again records a new day's worth (new event ids).
"""

from __future__ import annotations

import json
import os
import random
import sys
import urllib.request
import uuid
from decimal import Decimal
from datetime import datetime, timedelta, timezone
from pathlib import Path

try:
    import ai_spend_tracker  # noqa: F401  (installed with pip)
except ImportError:  # running from a checkout: use the package next to this folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ai_spend_tracker import (  # noqa: E402
    UsageClient,
    from_anthropic,
    from_elevenlabs,
    from_gemini,
    from_openai_chat,
    from_openai_tts,
    generic_event,
)


def openai_chat(rng: random.Random) -> dict:
    prompt = rng.randint(900, 2500)
    cached = rng.choice([c for c in (0, 0, 1024, 1536) if c < prompt])  # cached is part of the prompt
    completion = rng.randint(150, 600)
    return {
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "..."}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


def anthropic_message(rng: random.Random, first_of_hour: bool) -> dict:
    brief = 6000  # the brand brief, cached: written by the first call of the hour, read after
    return {
        "type": "message",
        "model": "claude-3-5-sonnet-20241022",
        "content": [{"type": "text", "text": "..."}],
        "usage": {
            "input_tokens": rng.randint(40, 400),
            "cache_creation_input_tokens": brief if first_of_hour else 0,
            "cache_read_input_tokens": 0 if first_of_hour else brief,
            "output_tokens": rng.randint(200, 700),
        },
    }


def gemini_response(rng: random.Random) -> dict:
    prompt = rng.randint(3000, 9000)
    return {
        "candidates": [{"content": {"parts": [{"text": "..."}], "role": "model"}, "finishReason": "STOP"}],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "cachedContentTokenCount": rng.choice([0, 2048]),
            "candidatesTokenCount": rng.randint(100, 400),
            "thoughtsTokenCount": rng.randint(0, 900),
            "totalTokenCount": prompt + 1300,
        },
        "modelVersion": "gemini-2.5-flash",
    }


def main() -> int:
    base_url = os.environ.get("AST_BASE_URL", "http://127.0.0.1:8787").rstrip("/")
    api_key = os.environ.get("AST_API_KEY")
    if not api_key:
        print("Set AST_API_KEY to a project key (ast_...); see clients/python/README.md.", file=sys.stderr)
        return 2

    rng = random.Random(int(os.environ.get("SEED", "7")))
    session = f"day-{uuid.uuid4().hex[:8]}"  # every event of this run carries it
    drops = []
    usage = UsageClient(
        base_url,
        api_key,
        batch_size=200,
        flush_interval=None,  # one script, one flush at the end
        defaults={"session_id": session},
        on_drop=lambda events, reason, error: drops.append((len(events), reason, str(error))),
    )

    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(hours=24)
    jobs = 0
    for hour in range(24):
        for clip in range(rng.randint(1, 3)):
            jobs += 1
            job = f"clip-{start:%Y%m%d}-{hour:02d}-{clip}-{uuid.uuid4().hex[:6]}"
            at = start + timedelta(hours=hour, minutes=rng.randint(0, 50))

            def ts(minutes: int) -> str:
                return (at + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

            usage.record(from_openai_chat(openai_chat(rng), operation="script-generation", job_id=job, timestamp=ts(0)))
            usage.record(from_anthropic(anthropic_message(rng, clip == 0), operation="script-rewrite", job_id=job, timestamp=ts(1)))
            usage.record(from_gemini(gemini_response(rng), operation="shot-list", job_id=job, timestamp=ts(2)))
            script = "Meet the shoe that runs as far as you do. " * rng.randint(2, 6)
            voice = {"character-cost": str(len(script)), "content-type": "audio/mpeg"}
            usage.record(from_elevenlabs(voice, model="eleven_multilingual_v2", operation="voice-over", job_id=job, timestamp=ts(3)))
            usage.record(
                generic_event("heygen", model="avatar-iv-photo-avatar", video_seconds=round(rng.uniform(15, 45), 1), operation="avatar-video", job_id=job, timestamp=ts(5))
            )
        preview = {"model": "tts-1", "input": "Preview of today's voice options.", "voice": "alloy"}
        usage.record(from_openai_tts(preview, operation="voice-preview", timestamp=(start + timedelta(hours=hour, minutes=55)).isoformat()))

    usage.close()  # flushes what is left (full batches were sent along the way)
    stats = usage.stats
    print(f"recorded {stats['recorded']} events for {jobs} clips over the last 24 hours")
    print(f"stored {stats['stored']}, already stored {stats['duplicates']}, dropped {stats['dropped']}, retries {stats['retries']}")

    def get(path: str) -> dict:
        request = urllib.request.Request(f"{base_url}{path}", headers={"authorization": f"Bearer {api_key}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    # This run's events, read back: GET /api/usage (newest first, pages of up to 1,000).
    costs: dict = {}
    unpriced = 0
    cursor = ""
    while True:
        page = get(f"/api/usage?session_id={session}&limit=1000" + (f"&cursor={cursor}" if cursor else ""))
        for event in page["events"]:
            if event["cost"] is None:
                unpriced += 1
            else:
                currency = event["cost"]["currency"]
                costs[currency] = costs.get(currency, Decimal(0)) + Decimal(event["cost"]["amount"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    print("this day cost: " + (", ".join(f"{v} {k}" for k, v in sorted(costs.items())) or "nothing") + f" ({unpriced} unpriced)")

    month = get("/api/usage/stats")["month"]
    print(f"the project's month so far ({month['month']}), per provider:")
    for row in month["by_provider"]:
        cost = ", ".join(f"{m['amount']} {m['currency']}" for m in row["cost"]) or "-"
        print(f"  {row['provider']:<11} {row['events']:>5} events  {cost}")
    if drops:
        print(f"dropped: {drops}", file=sys.stderr)
    return 0 if stats["dropped"] == 0 and stats["stored"] + stats["duplicates"] == stats["recorded"] else 1


if __name__ == "__main__":
    sys.exit(main())
