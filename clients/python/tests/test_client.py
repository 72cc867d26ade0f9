"""UsageClient and AsyncUsageClient against a running worker (AST_BASE_URL, AST_API_KEY), with a
local flaky proxy in front of it to force 503s, 429s and lost answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import unittest

from _support import PYTHON_CLIENT, FlakyProxy, fixture, server, stored_events, unique

from ai_spend_tracker import (
    AsyncUsageClient,
    UsageApiError,
    UsageClient,
    from_anthropic,
    from_elevenlabs,
    from_gemini,
    from_openai_chat,
    generic_event,
)

FAST = {"retry_base": 0.01, "retry_max": 0.05, "flush_interval": None}


def by_id(events):
    return {e["id"]: e for e in events}


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class SyncClient(unittest.TestCase):
    def setUp(self):
        self.s = server()

    def client(self, base_url=None, **options):
        opts = {**FAST, **options}
        return UsageClient(base_url or self.s["base_url"], self.s["api_key"], **opts)

    def test_recorded_helper_events_are_stored_with_their_ids_and_quantities(self):
        job = unique("py-job")
        usage = self.client(defaults={"job_id": job, "operation": "python-test"})
        ids = [
            usage.record(from_openai_chat(fixture("openai-chat-completion.json"))),
            usage.record(from_anthropic(fixture("anthropic-message-cache-hit.json"))),
            usage.record(from_gemini(fixture("gemini-generate-content.json"))),
            usage.record(from_elevenlabs(fixture("elevenlabs-tts-response.json")["response"]["headers"], model="eleven_multilingual_v2")),
            usage.record(generic_event("heygen", model="avatar-iv", video_seconds="42.5", metadata={"clip": 7})),
        ]
        self.assertEqual(len(set(ids)), 5)
        self.assertEqual(usage.pending, 5)
        result = usage.flush()
        self.assertEqual((result.sent, result.stored, result.duplicates, result.dropped, result.retries), (5, 5, 0, 0, 0))
        self.assertEqual(len(result.reports), 1)
        self.assertEqual([e["status"] for e in result.reports[0]["events"]], ["stored"] * 5)
        self.assertEqual(usage.pending, 0)

        stored = by_id(stored_events(job_id=job))
        self.assertEqual(set(stored), set(ids))
        openai, anthropic, gemini, eleven, heygen = (stored[i] for i in ids)
        self.assertEqual(openai["usage"], {"input_tokens": 2006, "output_tokens": 300, "cached_input_tokens": 1920})
        self.assertEqual((openai["provider"], openai["model"], openai["operation"]), ("openai", "gpt-4o-2024-08-06", "python-test"))
        self.assertEqual(anthropic["usage"], {"input_tokens": 50, "output_tokens": 503, "cached_input_tokens": 100000, "cache_write_tokens": 248})
        self.assertEqual(gemini["usage"], {"input_tokens": 12840, "output_tokens": 231, "cached_input_tokens": 12288, "reasoning_tokens": 944})
        self.assertEqual(gemini["provider"], "google")
        self.assertEqual(eleven["usage"], {"characters": 49})
        self.assertEqual(heygen["usage"], {"video_seconds": "42.5"})
        self.assertEqual(heygen["metadata"], {"clip": 7})
        for event in (openai, anthropic, gemini, eleven):
            self.assertIsNone(event["unpriced"], event)
            self.assertRegex(event["cost"]["amount"], r"^\d+\.\d+$")

    def test_an_event_with_seed_004s_request_timestamp_is_stored_at_that_time_not_dropped(self):
        job = unique("py-seed-004")
        at = "2026-11-20T14:03:11Z"
        dropped = []
        usage = self.client(on_drop=lambda events, reason, error: dropped.append((reason, str(error))))
        usage.record({"id": unique("d1-row"), "provider": "openai", "model": "gpt-4", "input_tokens": 1500,
                      "output_tokens": 500, "cost_usd": "0.075", "request_timestamp": at, "job_id": job})
        result = usage.flush()
        self.assertEqual((result.stored, result.dropped, dropped), (1, 0, []))
        [event] = stored_events(job_id=job)
        self.assertEqual((event["timestamp"][:19], event["cost"]["amount"]), ("2026-11-20T14:03:11", "0.075"))

    def test_a_503_is_retried_with_the_same_ids_and_each_event_is_stored_once(self):
        job = unique("py-503")
        with FlakyProxy(self.s["base_url"], ["503"]) as proxy:
            usage = self.client(proxy.url, defaults={"job_id": job})
            ids = [usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 100 + i}) for i in range(3)]
            result = usage.flush()
        self.assertEqual(proxy.answers, [503, 201])
        self.assertEqual([e["id"] for e in proxy.bodies[0]["events"]], ids)
        self.assertEqual(proxy.bodies[1], proxy.bodies[0], "the retry resends the very same events")
        self.assertEqual((result.stored, result.retries, result.dropped), (3, 1, 0))
        self.assertEqual([(e.status, e.retryable) for e in result.errors], [(503, True)])
        stored = stored_events(job_id=job)
        self.assertEqual(sorted(e["id"] for e in stored), sorted(ids))
        self.assertEqual(sorted(e["input_tokens"] for e in stored), [100, 101, 102])

    def test_an_answer_lost_after_the_worker_stored_the_events_is_retried_and_counted_once(self):
        job = unique("py-lost")
        with FlakyProxy(self.s["base_url"], ["drop"]) as proxy:
            usage = self.client(proxy.url, defaults={"job_id": job})
            ids = [usage.record({"provider": "anthropic", "model": "claude-3-5-haiku", "input_tokens": 10, "output_tokens": i + 1}) for i in range(4)]
            result = usage.flush()
        self.assertEqual(proxy.answers, [0, 200], "the first answer never arrived; the retry found every event stored")
        self.assertEqual((result.stored, result.duplicates, result.retries), (0, 4, 1))
        self.assertEqual(result.errors[0].code, "network_error")
        self.assertEqual([e["status"] for e in result.reports[0]["events"]], ["duplicate"] * 4)
        stored = stored_events(job_id=job)
        self.assertEqual(sorted(e["id"] for e in stored), sorted(ids))

    def test_a_429_honours_retry_after_and_retries(self):
        job = unique("py-429")
        with FlakyProxy(self.s["base_url"], ["429", "429"]) as proxy:
            usage = self.client(proxy.url, defaults={"job_id": job})
            usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 5})
            result = usage.flush()
        self.assertEqual(proxy.answers, [429, 429, 201])
        self.assertEqual((result.stored, result.retries), (1, 2))

    def test_retries_stop_after_max_retries_and_the_events_are_reported_as_dropped(self):
        drops = []
        with FlakyProxy(self.s["base_url"], ["503"] * 10) as proxy:
            usage = self.client(proxy.url, max_retries=2, on_drop=lambda events, reason, error: drops.append((events, reason, error)))
            ids = [usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}) for _ in range(2)]
            result = usage.flush()
        self.assertEqual(proxy.answers, [503, 503, 503])
        self.assertEqual((result.stored, result.dropped, result.retries), (0, 2, 2))
        self.assertEqual(usage.dropped, 2)
        self.assertEqual(len(drops), 1)
        self.assertEqual([e["id"] for e in drops[0][0]], ids)
        self.assertEqual(drops[0][1], "retries_exhausted")
        self.assertEqual(drops[0][2].status, 503)

    def test_re_recording_dropped_events_later_is_safe_and_stores_them_once(self):
        job = unique("py-again")
        drops = []
        with FlakyProxy(self.s["base_url"], ["drop"] + ["503"] * 10) as proxy:
            usage = self.client(proxy.url, max_retries=1, defaults={"job_id": job}, on_drop=lambda ev, reason, err: drops.extend(ev))
            usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 7})
            usage.flush()
        self.assertEqual(len(drops), 1, "the worker stored it but the client never heard so")
        again = self.client()
        for event in drops:
            again.record(event)
        result = again.flush()
        self.assertEqual((result.stored, result.duplicates), (0, 1))
        self.assertEqual(len(stored_events(job_id=job)), 1)

    def test_a_full_buffer_drops_new_events_and_reports_them(self):
        job = unique("py-full")
        drops = []
        usage = self.client(max_buffer=3, defaults={"job_id": job}, on_drop=lambda events, reason, error: drops.append((events, reason)))
        ids = [usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": i + 1}) for i in range(5)]
        self.assertEqual(usage.dropped, 2)
        self.assertEqual(usage.pending, 3)
        self.assertEqual([(events[0]["id"], reason) for events, reason in drops], [(ids[3], "buffer_full"), (ids[4], "buffer_full")])
        result = usage.flush()
        self.assertEqual(result.stored, 3)
        self.assertEqual(sorted(e["id"] for e in stored_events(job_id=job)), sorted(ids[:3]))
        self.assertEqual(usage.stats, {"recorded": 5, "stored": 3, "duplicates": 0, "dropped": 2, "retries": 0})

    def test_an_invalid_event_is_dropped_and_the_rest_of_its_batch_is_stored(self):
        job = unique("py-invalid")
        drops = []
        usage = self.client(defaults={"job_id": job}, on_drop=lambda events, reason, error: drops.append((events, reason, error)))
        good1 = usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 3})
        bad = usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": -1})
        good2 = usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 4})
        result = usage.flush()
        self.assertEqual((result.stored, result.dropped), (2, 1))
        self.assertEqual([e["id"] for e in drops[0][0]], [bad])
        self.assertEqual(drops[0][1], "rejected")
        self.assertEqual(drops[0][2].status, 400)
        self.assertEqual(drops[0][2].details[0]["field"], "events[1].input_tokens")
        self.assertEqual(sorted(e["id"] for e in stored_events(job_id=job)), sorted([good1, good2]))

    def test_a_wrong_key_is_rejected_without_retrying(self):
        drops = []
        usage = UsageClient(self.s["base_url"], "ast_not_a_key", flush_interval=None, on_drop=lambda ev, reason, err: drops.append((reason, err.status)))
        usage.record({"provider": "openai", "input_tokens": 1})
        result = usage.flush()
        self.assertEqual((result.dropped, result.retries), (1, 0))
        self.assertEqual(drops, [("rejected", 401)])

    def test_budget_reads_the_projects_own_status_and_a_wrong_key_raises(self):
        # The test project has no budget or daily limit (the node suite checks the figures).
        self.assertIsNone(self.client().budget())
        with self.assertRaises(UsageApiError) as refused:
            UsageClient(self.s["base_url"], "ast_not_a_key", flush_interval=None).budget()
        self.assertEqual(refused.exception.status, 401)

    def test_batches_follow_batch_size_and_the_background_thread_sends_a_full_batch(self):
        job = unique("py-batch")
        with FlakyProxy(self.s["base_url"], []) as proxy:
            usage = UsageClient(proxy.url, self.s["api_key"], batch_size=2, flush_interval=60, defaults={"job_id": job})
            ids = [usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}) for _ in range(2)]
            self.assertTrue(wait_for(lambda: usage.pending == 0), "the full batch was sent without flush()")
            time.sleep(0.1)  # let the background flush return before the next record
            ids.append(usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}))
            self.assertEqual(usage.pending, 1, "a partial batch waits for the timer")
            usage.close()
        self.assertEqual([len(b["events"]) for b in proxy.bodies], [2, 1])
        self.assertEqual(sorted(e["id"] for e in stored_events(job_id=job)), sorted(ids))

    def test_the_flush_interval_sends_a_partial_batch_on_its_own(self):
        job = unique("py-timer")
        with UsageClient(self.s["base_url"], self.s["api_key"], flush_interval=0.2, defaults={"job_id": job}) as usage:
            event_id = usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1})
            self.assertTrue(wait_for(lambda: usage.pending == 0, timeout=5), "the timer flushed")
        self.assertEqual([e["id"] for e in stored_events(job_id=job)], [event_id])

    def test_given_ids_and_timestamps_are_kept(self):
        job = unique("py-given")
        usage = self.client(defaults={"job_id": job})
        event_id = unique("my-id")
        ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600))
        self.assertEqual(usage.record({"id": event_id, "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "timestamp": ts}), event_id)
        usage.flush()
        [stored] = stored_events(job_id=job)
        self.assertEqual(stored["id"], event_id)
        self.assertEqual(stored["timestamp"][:19], ts[:19])


    def test_events_left_unsent_are_flushed_when_the_interpreter_exits(self):
        job = unique("py-exit")
        script = (
            "import sys; sys.path.insert(0, sys.argv[1]); from ai_spend_tracker import UsageClient; "
            "a = UsageClient(sys.argv[2], sys.argv[3], flush_interval=None, defaults={'job_id': sys.argv[4]}); "
            "b = UsageClient(sys.argv[2], sys.argv[3], flush_interval=60, defaults={'job_id': sys.argv[4]}); "
            "print(a.record({'provider': 'openai', 'model': 'gpt-4o-mini', 'input_tokens': 1}), "
            "b.record({'provider': 'openai', 'model': 'gpt-4o-mini', 'input_tokens': 2}))"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(PYTHON_CLIENT), self.s["base_url"], self.s["api_key"], job],
            capture_output=True, text=True, timeout=30,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        ids = done.stdout.split()
        self.assertEqual(sorted(e["id"] for e in stored_events(job_id=job)), sorted(ids))


class AsyncClient(unittest.TestCase):
    def setUp(self):
        self.s = server()

    def test_async_client_batches_retries_a_503_with_the_same_ids_and_stores_once(self):
        job = unique("py-async")

        async def main(proxy_url):
            usage = AsyncUsageClient(proxy_url, self.s["api_key"], batch_size=2, retry_base=0.01, retry_max=0.05, defaults={"job_id": job})
            ids = [usage.record({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10 + i}) for i in range(3)]
            result = await usage.aclose()
            return ids, usage, result

        with FlakyProxy(self.s["base_url"], ["503"]) as proxy:
            ids, usage, result = asyncio.run(main(proxy.url))
        self.assertEqual(proxy.answers, [503, 201, 201])
        self.assertEqual(proxy.bodies[0], proxy.bodies[1])
        self.assertEqual([len(b["events"]) for b in proxy.bodies], [2, 2, 1])
        self.assertEqual(usage.stats["stored"], 3)
        self.assertEqual(usage.stats["retries"], 1)
        self.assertEqual(usage.pending, 0)
        stored = stored_events(job_id=job)
        self.assertEqual(sorted(e["id"] for e in stored), sorted(ids))

    def test_async_budget_reads_the_projects_own_status(self):
        async def go():
            return await AsyncUsageClient(self.s["base_url"], self.s["api_key"], flush_interval=None).budget()

        self.assertIsNone(asyncio.run(go()))

    def test_async_timer_flushes_and_async_with_closes(self):
        job = unique("py-async-timer")

        async def main():
            async with AsyncUsageClient(self.s["base_url"], self.s["api_key"], flush_interval=0.1, defaults={"job_id": job}) as usage:
                event_id = usage.record(from_openai_chat(fixture("openai-chat-completion-reasoning.json")))
                for _ in range(100):
                    if usage.pending == 0:
                        break
                    await asyncio.sleep(0.05)
                pending_after_timer = usage.pending
            return event_id, pending_after_timer

        event_id, pending_after_timer = asyncio.run(main())
        self.assertEqual(pending_after_timer, 0)
        [stored] = stored_events(job_id=job)
        self.assertEqual(stored["id"], event_id)
        self.assertEqual(stored["usage"], {"input_tokens": 1280, "output_tokens": 1843, "cached_input_tokens": 1024, "reasoning_tokens": 1536})


if __name__ == "__main__":
    unittest.main()
