"""The spend guard in the Python client (issue 25): guard(), reserve(), release(), settlement
through record(), the guarded ``track_openai`` and the fail-open / fail-closed policy, against a
fake tracker (http.server in a thread) that speaks the guard contract. No worker needed."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import unittest
import urllib.parse
from typing import Any, Dict, List

from _support import PYTHON_CLIENT  # noqa: F401  (puts the package on sys.path)
from test_track_openai import AsyncResource, FakeAsyncStream, fake_openai

from ai_spend_tracker import (
    AsyncUsageClient,
    BudgetExceeded,
    TrackerUnavailable,
    UsageApiError,
    UsageClient,
    estimate_openai_request,
    track_openai,
)

BUDGET = {"kind": "budget", "mode": "block", "currency": "USD", "limit": "100.00", "spent": "99.90", "reserved": "0", "estimate": "0.50", "remaining": "-0.40"}
DAILY = {"kind": "daily_limit", "mode": "alert", "currency": "USD", "limit": "10.00", "spent": "9.80", "reserved": "0", "estimate": "0.50", "remaining": "-0.30"}
ESTIMATE = {"provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}


class FakeTracker:
    """Answers the guard contract. ``decision`` decides every guard; ``fail`` answers the next n
    requests 503 (retryable); ``requests`` keeps every request (method, path, query, body).
    Reservations are kept by idempotency id, so the same id answers the same reservation."""

    def __init__(self) -> None:
        self.decision = "allow"
        self.fail = 0
        self.requests: List[Dict[str, Any]] = []
        self.reservations: Dict[str, str] = {}
        self.by_key: Dict[str, Dict[str, str]] = {}
        self.events: List[Dict[str, Any]] = []
        self.guard_state = {"state": "ok", "limiting": None}
        self.lock = threading.Lock()
        tracker = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: Any, retry_after: str = "") -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                if retry_after:
                    self.send_header("retry-after", retry_after)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def handle_any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                body = json.loads(raw) if raw else None
                with tracker.lock:
                    tracker.requests.append({"method": self.command, "path": url.path, "query": url.query, "auth": self.headers.get("authorization"), "body": body})
                    if tracker.fail > 0:
                        tracker.fail -= 1
                        return self.answer(503, {"error": {"code": "storage_unavailable", "message": "try again", "details": [], "retryable": True}}, "0")
                    return self.route(url.path, body)

            def route(self, path: str, body: Any) -> None:
                if self.command == "POST" and path == "/api/usage/guard":
                    decision = tracker.decision
                    limiting = BUDGET if decision == "deny" else DAILY if decision == "warn" else None
                    reservation = None
                    if body.get("reserve") and decision != "deny":
                        reservation = tracker.by_key.get(body["id"])
                        if reservation is None:
                            reservation = {"id": f"res_{len(tracker.reservations) + 1}", "expires_at": "2026-12-05T12:05:00.000Z"}
                            tracker.by_key[body["id"]] = reservation
                            tracker.reservations[reservation["id"]] = "held"
                    return self.answer(200, {"decision": decision, "limiting": limiting, "limits": [BUDGET, DAILY], "estimate": {"cost": "0.50", "currency": "USD"}, "reservation": reservation})
                if self.command == "DELETE" and path.startswith("/api/usage/guard/"):
                    rid = urllib.parse.unquote(path.rsplit("/", 1)[1])
                    if tracker.reservations.get(rid) != "held":
                        return self.answer(404, {"error": {"code": "not_found", "message": "no such reservation", "details": []}})
                    tracker.reservations[rid] = "released"
                    return self.answer(200, {"id": rid, "released": True})
                if self.command == "POST" and path == "/api/usage":
                    outcomes = []
                    for i, e in enumerate(body["events"]):
                        tracker.events.append(e)
                        if tracker.reservations.get(e.get("reservation_id")) == "held":
                            tracker.reservations[e["reservation_id"]] = "settled"
                        outcomes.append({"index": i, "id": e["id"], "status": "stored", "duplicate": False})
                    n = len(outcomes)
                    return self.answer(200, {"success": True, "accepted": n, "stored": n, "duplicates": 0, "events": outcomes, "guard": tracker.guard_state})
                return self.answer(404, {"error": {"code": "not_found", "message": "no route", "details": []}})

            do_POST = handle_any
            do_DELETE = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def guards(self) -> List[Dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/api/usage/guard"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def dead_url() -> str:
    """A loopback port nothing listens on: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


FAST = {"flush_interval": None, "retry_base": 0.001, "retry_max": 0.005, "max_retries": 2}


class GuardTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.tracker = FakeTracker()
        self.addCleanup(self.tracker.close)
        self.warnings: List[Any] = []
        self.errors: List[Exception] = []

    def client(self, **options: Any) -> UsageClient:
        opts = {**FAST, "on_guard_warning": self.warnings.append, "on_error": self.errors.append, **options}
        return UsageClient(self.tracker.url, "ast_test", **opts)


class Guard(GuardTestCase):
    def test_guard_answers_allow_warn_and_deny_as_the_tracker_decides_and_a_deny_is_not_raised(self):
        usage = self.client()
        seen = []
        for decision in ("allow", "warn", "deny"):
            self.tracker.decision = decision
            answer = usage.guard({**ESTIMATE, "metadata": None})
            seen.append((answer["decision"], (answer["limiting"] or {}).get("kind"), len(answer["limits"]), answer["reservation"]))
        self.assertEqual(seen, [("allow", None, 2, None), ("warn", "daily_limit", 2, None), ("deny", "budget", 2, None)])
        first = self.tracker.guards()[0]
        self.assertEqual((first["method"], first["auth"]), ("POST", "Bearer ast_test"))
        self.assertEqual(first["body"], {"estimate": ESTIMATE}, "no reserve flag, no id, no empty fields")
        self.assertEqual(self.warnings, [], "guard() hands the decision back; it does not also warn")

    def test_guard_sends_a_profile_with_units_or_an_amount_as_text_with_the_admin_clients_project(self):
        usage = self.client(project_id="video-ads")
        usage.guard(profile="clip", units=2)
        usage.guard(amount={"amount": "0.50", "currency": "USD"})
        self.assertEqual(
            [r["body"] for r in self.tracker.guards()],
            [{"profile": "clip", "units": 2, "project_id": "video-ads"}, {"amount": {"amount": "0.50", "currency": "USD"}, "project_id": "video-ads"}],
        )

    def test_guard_refuses_none_or_two_kinds_and_a_float_amount_before_sending(self):
        usage = self.client()
        with self.assertRaises(TypeError):
            usage.guard()
        with self.assertRaisesRegex(TypeError, "exactly one of"):
            usage.guard(ESTIMATE, amount={"amount": "1", "currency": "USD"})
        with self.assertRaisesRegex(TypeError, "never a float"):
            usage.guard(amount={"amount": 0.5, "currency": "USD"})
        self.assertEqual(self.tracker.requests, [])

    def test_reserve_sends_reserve_ttl_and_a_generated_id_and_answers_the_reservation(self):
        usage = self.client()
        r = usage.reserve(ESTIMATE, ttl_seconds=120)
        self.assertEqual((r.id, r.expires_at, r.decision, r.limiting), ("res_1", "2026-12-05T12:05:00.000Z", "allow", None))
        body = self.tracker.guards()[0]["body"]
        self.assertEqual((body["reserve"], body["ttl_seconds"]), (True, 120))
        self.assertRegex(body["id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        own = usage.reserve(amount={"amount": "2.00", "currency": "USD"}, id="clip-7-render")
        self.assertEqual((self.tracker.guards()[1]["body"]["id"], own.id), ("clip-7-render", "res_2"))

    def test_a_reserve_retried_after_a_503_resends_the_same_id_and_gets_one_reservation(self):
        usage = self.client()
        self.tracker.fail = 1
        r = usage.reserve(ESTIMATE)
        bodies = [g["body"] for g in self.tracker.guards()]
        self.assertEqual(len(bodies), 2, "one failed attempt and its retry")
        self.assertEqual(bodies[0], bodies[1])
        self.assertEqual(r.id, "res_1")
        self.assertEqual(len(self.tracker.reservations), 1)
        self.assertEqual([e.status for e in self.errors], [503], "the failed attempt went to on_error")

    def test_reserve_raises_budget_exceeded_naming_the_limit_and_its_numbers_on_a_deny(self):
        usage = self.client()
        self.tracker.decision = "deny"
        with self.assertRaises(BudgetExceeded) as caught:
            usage.reserve(ESTIMATE)
        e = caught.exception
        self.assertNotIsInstance(e, UsageApiError)
        self.assertEqual((e.decision, e.limiting, e.limits), ("deny", BUDGET, [BUDGET, DAILY]))
        self.assertIn("budget 100.00 USD: spent 99.90, reserved 0, would remain -0.40", str(e))
        self.assertEqual(self.tracker.reservations, {})

    def test_a_warn_is_granted_and_reported_to_on_guard_warning_not_raised(self):
        usage = self.client()
        self.tracker.decision = "warn"
        r = usage.reserve(ESTIMATE)
        self.assertEqual(r.id, "res_1")
        self.assertEqual([(w.kind, w.answer["limiting"]["kind"]) for w in self.warnings], [("warn", "daily_limit")])
        self.assertIn("daily_limit 10.00 USD", self.warnings[0].message)

    def test_without_a_callback_a_warn_is_logged_as_a_warning(self):
        usage = UsageClient(self.tracker.url, "ast_test", **FAST)
        self.tracker.decision = "warn"
        with self.assertLogs("ai_spend_tracker", level="WARNING") as logs:
            usage.reserve(ESTIMATE)
        self.assertEqual(len(logs.records), 1)
        self.assertIn("guard warns: daily_limit", logs.output[0])

    def test_record_sends_the_reservation_id_which_settles_it_and_keeps_the_ingest_guard_state(self):
        usage = self.client()
        self.assertIsNone(usage.guard_state)
        r = usage.reserve(profile="clip", units=1)
        self.tracker.guard_state = {"state": "warn", "limiting": "plan"}
        usage.record({"provider": "heygen", "model": "avatar-iv", "video_seconds": "30"}, reservation_id=r.id)
        usage.record({"provider": "heygen", "model": "avatar-iv", "video_seconds": "5"}, reservation_id=None)
        usage.flush()
        self.assertEqual([e.get("reservation_id") for e in self.tracker.events], ["res_1", None])
        self.assertEqual(self.tracker.reservations["res_1"], "settled")
        self.assertEqual(usage.guard_state, {"state": "warn", "limiting": "plan"})

    def test_release_deletes_the_reservation_then_answers_false_for_it_with_the_admin_clients_project(self):
        usage = self.client(project_id="video-ads")
        r = usage.reserve(ESTIMATE)
        self.assertIs(usage.release(r.id), True)
        self.assertEqual(self.tracker.reservations[r.id], "released")
        self.assertIs(usage.release(r.id), False, "unknown now: 404")
        deletes = [(q["path"], q["query"]) for q in self.tracker.requests if q["method"] == "DELETE"]
        self.assertEqual(deletes, [("/api/usage/guard/res_1", "project_id=video-ads")] * 2)


class FailurePolicy(GuardTestCase):
    def test_with_the_tracker_down_the_client_fails_open_by_default_with_a_warning(self):
        usage = UsageClient(dead_url(), "ast_test", **{**FAST, "max_retries": 1}, on_guard_warning=self.warnings.append)
        answer = usage.guard(ESTIMATE)
        self.assertEqual((answer["decision"], answer["reservation"], answer["unavailable"]), ("allow", None, True))
        self.assertEqual(answer["error"].code, "network_error")
        self.assertIsNone(usage.reserve(ESTIMATE))
        self.assertEqual([w.kind for w in self.warnings], ["unavailable", "unavailable"])
        self.assertEqual(self.warnings[0].error.status, 0)

    def test_failing_closed_a_tracker_answering_503_raises_tracker_unavailable_not_budget_exceeded(self):
        usage = self.client(fail_open=False)
        self.tracker.fail = 100
        with self.assertRaises(TrackerUnavailable) as caught:
            usage.reserve(ESTIMATE)
        e = caught.exception
        self.assertNotIsInstance(e, BudgetExceeded)
        self.assertEqual((e.status, e.__cause__.code), (503, "storage_unavailable"))
        self.assertEqual(len(self.tracker.guards()), 3, "the first attempt and max_retries (2) retries")
        self.assertEqual(self.warnings, [])
        down = UsageClient(dead_url(), "ast_test", **{**FAST, "max_retries": 0}, fail_open=False)
        with self.assertRaises(TrackerUnavailable) as closed:
            down.guard(ESTIMATE)
        self.assertEqual(closed.exception.code, "network_error")

    def test_a_400_from_the_guard_raises_the_api_error_even_when_failing_open(self):
        calls = []

        def refuse(url, headers, body, timeout):
            calls.append(body)
            return 400, {}, json.dumps({"error": {"code": "validation_failed", "message": "bad units", "details": [{"field": "units", "message": "must be positive"}]}})

        usage = UsageClient("http://tracker.invalid", "ast_test", transport=refuse, on_guard_warning=self.warnings.append, **FAST)
        with self.assertRaises(UsageApiError) as caught:
            usage.guard(profile="clip", units=-1)
        self.assertNotIsInstance(caught.exception, TrackerUnavailable)
        self.assertEqual((caught.exception.status, caught.exception.details[0]["field"]), (400, "units"))
        self.assertEqual((len(calls), self.warnings), (1, []), "not retried, not failed open")


class GuardedOpenAI(GuardTestCase):
    def test_the_guarded_wrapper_raises_budget_exceeded_before_calling_openai(self):
        usage = self.client()
        self.tracker.decision = "deny"
        client = fake_openai()
        completions = client.chat.completions
        track_openai(client, usage, guard=True)
        with self.assertRaises(BudgetExceeded) as caught:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=300)
        self.assertEqual(caught.exception.limiting["kind"], "budget")
        self.assertEqual(completions.calls, [], "OpenAI was never called")
        self.assertEqual(usage.pending, 0)

    def test_the_guarded_wrapper_reserves_from_model_and_max_tokens_and_settles_with_the_actual_usage(self):
        usage = self.client()
        client = track_openai(fake_openai(), usage, operation="script", guard=True, guard_ttl_seconds=60, job_id="clip-1")
        messages = [{"role": "system", "content": "x" * 40}, {"role": "user", "content": [{"type": "text", "text": "y" * 21}]}]
        response = client.chat.completions.create(model="gpt-4o", messages=messages, max_tokens=300)
        self.assertEqual(response.usage.prompt_tokens, 2006)
        body = self.tracker.guards()[0]["body"]
        self.assertEqual(body["estimate"], {"provider": "openai", "model": "gpt-4o", "input_tokens": 16, "output_tokens": 300})
        self.assertEqual((body["reserve"], body["ttl_seconds"]), (True, 60))
        usage.flush()
        [event] = self.tracker.events
        self.assertEqual((event["reservation_id"], event["input_tokens"], event["output_tokens"], event["job_id"]), ("res_1", 2006, 300, "clip-1"))
        self.assertEqual(self.tracker.reservations["res_1"], "settled")

    def test_a_guarded_stream_is_recorded_with_its_reservation_id_when_it_ends(self):
        usage = self.client()
        client = track_openai(fake_openai(), usage, guard=True)
        text = "".join(getattr(c.choices[0].delta, "content", None) or "" for c in client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True))
        self.assertEqual(text, "Hello there!")
        usage.flush()
        self.assertEqual([(e["reservation_id"], e["input_tokens"]) for e in self.tracker.events], [("res_1", 19)])
        self.assertEqual(self.tracker.guards()[0]["body"]["estimate"]["output_tokens"], 1024, "no max_tokens: the default estimate")

    def test_a_guarded_call_that_raises_releases_its_reservation_and_records_nothing(self):
        usage = self.client()
        client = track_openai(fake_openai(), usage, guard=True)
        with self.assertRaisesRegex(RuntimeError, "provider error"):
            client.chat.completions.create(model="boom", messages=[])
        self.assertEqual(self.tracker.reservations, {"res_1": "released"})
        self.assertEqual(usage.pending, 0)

    def test_an_estimate_function_decides_what_each_call_reserves_and_none_skips_the_guard(self):
        usage = self.client()
        picked = lambda kwargs: None if kwargs["model"] == "tts-1" else {"amount": {"amount": "0.25", "currency": "USD"}}  # noqa: E731
        client = track_openai(fake_openai(), usage, guard=picked)
        client.responses.create(model="o4-mini", input="hi")
        client.audio.speech.create(model="tts-1", voice="alloy", input="hello")
        self.assertEqual([g["body"].get("amount") for g in self.tracker.guards()], [{"amount": "0.25", "currency": "USD"}])
        usage.flush()
        self.assertEqual([(e["model"], e.get("reservation_id")) for e in self.tracker.events], [("o4-mini-2025-04-16", "res_1"), ("tts-1", None)])

    def test_the_default_estimate_counts_speech_characters_exactly_and_embeddings_without_output(self):
        self.assertEqual(estimate_openai_request("tts", {"model": "tts-1", "input": "héllo"}), {"provider": "openai", "model": "tts-1", "characters": 5})
        self.assertEqual(estimate_openai_request("embeddings", {"model": "text-embedding-3-small", "input": ["abcd", "efgh1"]}), {"provider": "openai", "model": "text-embedding-3-small", "input_tokens": 3})
        self.assertEqual(estimate_openai_request("responses", {"model": "o4-mini", "input": "abcdefgh", "max_output_tokens": 50}), {"provider": "openai", "model": "o4-mini", "input_tokens": 2, "output_tokens": 50})

    def test_failing_open_with_the_tracker_down_the_guarded_call_goes_ahead_unreserved(self):
        usage = UsageClient(dead_url(), "ast_test", **{**FAST, "max_retries": 0}, on_guard_warning=self.warnings.append)
        client = fake_openai()
        completions = client.chat.completions
        track_openai(client, usage, guard=True)
        response = client.chat.completions.create(model="gpt-4o", messages=[])
        self.assertEqual(response.model, "gpt-4o-2024-08-06")
        self.assertEqual(len(completions.calls), 1)
        self.assertEqual([w.kind for w in self.warnings], ["unavailable"])
        self.assertEqual(usage.pending, 1, "the usage is still recorded, without a reservation id")

    def test_failing_closed_with_the_tracker_down_the_guarded_wrapper_raises_tracker_unavailable_without_calling_openai(self):
        usage = UsageClient(dead_url(), "ast_test", **{**FAST, "max_retries": 0}, fail_open=False)
        client = fake_openai()
        completions = client.chat.completions
        track_openai(client, usage, guard=True)
        with self.assertRaises(TrackerUnavailable):
            client.chat.completions.create(model="gpt-4o", messages=[])
        self.assertEqual(completions.calls, [])

    def test_with_the_async_clients_a_deny_raises_before_the_call_and_an_allow_settles(self):
        tracker = self.tracker

        async def main():
            usage = AsyncUsageClient(tracker.url, "ast_test", **FAST)
            client = fake_openai(AsyncResource, FakeAsyncStream)
            completions = client.chat.completions
            track_openai(client, usage, guard=True)
            tracker.decision = "deny"
            with self.assertRaises(BudgetExceeded):
                await client.chat.completions.create(model="gpt-4o", messages=[], max_tokens=10)
            self.assertEqual(completions.calls, [])
            tracker.decision = "allow"
            response = await client.chat.completions.create(model="gpt-4o", messages=[], max_tokens=10)
            seen = [c async for c in await client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)]
            self.assertIs(await usage.release("res_404"), False)
            await usage.aclose()
            return response, seen

        response, seen = asyncio.run(main())
        self.assertEqual((response.model, len(seen)), ("gpt-4o-2024-08-06", 4))
        self.assertEqual(sorted((e["reservation_id"], e["input_tokens"]) for e in self.tracker.events), [("res_1", 2006), ("res_2", 19)])
        self.assertEqual(self.tracker.reservations, {"res_1": "settled", "res_2": "settled"})


if __name__ == "__main__":
    unittest.main()
