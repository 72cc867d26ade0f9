//! An ElevenLabs credits plan over events that report credits and events that do not.

use super::*;

#[test]
fn a_models_events_without_credits_count_their_characters_beside_those_that_report_credits() {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "elevenlabs", "monthly_fee": "99", "allotment": {"amount": "100000", "unit": "credits"}}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let t = "2026-11-20T10:00:00Z";
    record(
        &world,
        now,
        json!([
            // Seed 000's logger: characters and the credits it estimated.
            {"provider": "elevenlabs", "model": "eleven_multilingual_v2", "characters": 500, "credits": "150", "timestamp": t},
            // The client helpers: characters only, at the model's rate (1, and 0.5 on flash).
            {"provider": "elevenlabs", "model": "eleven_multilingual_v2", "characters": 1000, "timestamp": t},
            {"provider": "elevenlabs", "model": "eleven_flash_v2_5", "characters": 1000, "credits": "0", "timestamp": t},
        ]),
    );
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    // 150 reported + 1,000 at 1 + 1,000 at 0.5.
    assert_eq!(subscription(&report, "elevenlabs")["used"], "1650");
}
