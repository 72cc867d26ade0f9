"""ai-spend-tracker client for Python (standard library only).

    from ai_spend_tracker import UsageClient, from_openai_chat

    usage = UsageClient("http://127.0.0.1:8787", "ast_...")
    usage.record(from_openai_chat(response, operation="script-generation"))
    usage.flush()
"""

from .client import (
    AsyncUsageClient,
    BudgetExceeded,
    FlushResult,
    GuardWarning,
    Reservation,
    TrackerUnavailable,
    UsageApiError,
    UsageClient,
    new_event_id,
    urllib_transport,
    utc_now_iso,
)
from .helpers import (
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
from .openai_wrapper import DEFAULT_OUTPUT_TOKENS, estimate_openai_request, track_openai

__version__ = "0.1.0"

__all__ = [
    "UsageClient",
    "AsyncUsageClient",
    "UsageApiError",
    "BudgetExceeded",
    "TrackerUnavailable",
    "GuardWarning",
    "Reservation",
    "FlushResult",
    "new_event_id",
    "urllib_transport",
    "utc_now_iso",
    "from_openai_chat",
    "from_openai_responses",
    "from_openai",
    "from_openai_tts",
    "from_anthropic",
    "from_gemini",
    "from_elevenlabs",
    "generic_event",
    "header_value",
    "track_openai",
    "estimate_openai_request",
    "DEFAULT_OUTPUT_TOKENS",
]
