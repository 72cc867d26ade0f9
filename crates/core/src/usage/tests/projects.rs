//! Which project an event is recorded for: the admin key names one, a project key only its own.

use serde_json::json;

use crate::access::auth::Principal;
use crate::kernel::error::CoreError;
use crate::usage::fixtures::{fields, World};

#[test]
fn the_admin_key_must_name_an_existing_project_per_event_or_per_batch() {
    let world = World::new();
    let missing = world
        .send_as(
            &Principal::Admin,
            json!({"events": [{"provider": "openai", "model": "gpt-4o", "input_tokens": 1}]}),
        )
        .unwrap_err();
    assert_eq!(
        fields(&missing),
        vec![("events[0].project_id".to_string(), Some(0))]
    );
    let unknown = world
        .send_as(
            &Principal::Admin,
            json!({"project_id": "nope", "events": [{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}]}),
        )
        .unwrap_err();
    assert_eq!(
        fields(&unknown),
        vec![("events[0].project_id".to_string(), Some(0))]
    );
    let ok = world
        .send_as(
            &Principal::Admin,
            json!({"project_id": "video-ads", "events": [{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}]}),
        )
        .unwrap();
    assert_eq!(ok.events[0].project_id, "video-ads");
    assert!(world.log.objects.borrow().len() == 1);
}

#[test]
fn a_project_key_cannot_record_for_another_project_and_the_refusal_names_the_field() {
    let world = World::new();
    let event = json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1});
    let mut own = event.clone();
    own["project_id"] = json!("someone-else");
    for (body, field) in [
        (own, "project_id"),
        (
            json!({"events": [event.clone()], "project_id": "someone-else"}),
            "project_id",
        ),
        (
            json!({"events": [event.clone(), {"project_id": "someone-else", "provider": "acme", "cost": "1"}]}),
            "events[1].project_id",
        ),
    ] {
        match world.send(body).unwrap_err() {
            CoreError::Forbidden(refusal) => assert_eq!(refusal.field.as_deref(), Some(field)),
            other => panic!("expected a 403, got {other:?}"),
        }
    }
    assert!(world.store.stored_events().is_empty());
    assert!(world.log.objects.borrow().is_empty());
}
