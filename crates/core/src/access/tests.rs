//! Host tests of the project, key and auth services over the in-memory store.

use chrono::{TimeZone, Utc};
use pollster::block_on;

use crate::access::auth::{authenticate, bearer_token, secrets_equal, Principal};
use crate::access::keys::{create_key, hash_key, list_keys, revoke_key, NewKeyRequest};
use crate::access::projects::{create_project, delete_project, get_project, ProjectId};
use crate::access::store::ProjectStore;
use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::kernel::input::parse_json;
use crate::kernel::testing::MemoryStore;

fn clock() -> FixedClock {
    FixedClock(Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap())
}

fn field_names(error: &CoreError) -> Vec<String> {
    match error {
        CoreError::Validation(details) | CoreError::MalformedBody { details, .. } => {
            details.iter().map(|d| d.field.clone()).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_new_project_gets_an_id_and_the_default_alert_level() {
    let store = MemoryStore::new();
    let request = parse_json(br#"{"name":"  Video ads  "}"#).unwrap();
    let project = block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap();
    assert!(project.id.as_str().starts_with("prj_"));
    assert_eq!(project.name, "Video ads");
    assert_eq!(project.budget_alert_threshold_percent, 80);
    assert_eq!(project.budget_threshold_usd, None);
    let stored = block_on(store.get_project(&project.id)).unwrap().unwrap();
    assert_eq!(stored, project);
}

#[test]
fn a_budget_is_kept_exactly_and_shown_as_a_decimal_string() {
    let store = MemoryStore::new();
    let request =
        parse_json(br#"{"id":"ads","name":"Ads","budget_threshold_usd":100.10}"#).unwrap();
    let project = block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap();
    assert_eq!(project.budget_threshold_usd.unwrap().nanos, 100_100_000_000);
    let json = serde_json::to_value(&project).unwrap();
    assert_eq!(json["budget_threshold_usd"], "100.10");
}

#[test]
fn every_invalid_field_of_a_new_project_is_reported_at_once() {
    let store = MemoryStore::new();
    let request = parse_json(
        br#"{"id":"Bad Id!","name":" ","budget_threshold_usd":-5,"budget_alert_threshold_percent":0}"#,
    )
    .unwrap();
    let error = block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap_err();
    assert_eq!(
        field_names(&error),
        vec![
            "id",
            "name",
            "budget_threshold_usd",
            "budget_alert_threshold_percent"
        ]
    );
    assert!(block_on(store.list_projects()).unwrap().is_empty());
}

#[test]
fn a_project_name_with_a_direction_override_or_an_invisible_character_is_refused_on_create_and_update(
) {
    let store = MemoryStore::new();
    for name in [
        "Ads \u{202E}gnp.exe",
        "Ad\u{200B}s",
        "\u{2066}Ads\u{2069}",
        "Ads\u{FEFF}",
        "A\u{061C}ds",
        "Ads\u{0007}",
    ] {
        let request = parse_json(
            serde_json::json!({"id": "ads", "name": name})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let error =
            block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap_err();
        assert_eq!(field_names(&error), vec!["name"], "{name:?}");
    }
    assert!(block_on(store.list_projects()).unwrap().is_empty());
    let request = parse_json(br#"{"id":"ads","name":"Caf\u00e9 \u5e7f\u544a \u0627\u0644\u0639\u0631\u0628\u064a\u0629"}"#).unwrap();
    let before = block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap();
    assert_eq!(
        before.name, "Café 广告 العربية",
        "letters of any script are fine"
    );
    // A patch's hidden characters: budgets::settings::tests.
    assert_eq!(block_on(get_project(&store, "ads")).unwrap(), before);
}

#[test]
fn a_key_name_with_a_direction_override_is_refused() {
    let store = MemoryStore::new();
    let request = parse_json(br#"{"id":"ads","name":"Ads"}"#).unwrap();
    block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap();
    let error = block_on(create_key(
        &store,
        &store,
        &clock(),
        &SystemEntropy,
        "ads",
        NewKeyRequest {
            name: Some("ci\u{202E}dorp".into()),
        },
    ))
    .unwrap_err();
    assert_eq!(field_names(&error), vec!["name"]);
}

#[test]
fn a_taken_project_id_is_a_conflict() {
    let store = MemoryStore::new();
    for expected_ok in [true, false] {
        let request = parse_json(br#"{"id":"ads","name":"Ads"}"#).unwrap();
        let result = block_on(create_project(&store, &clock(), &SystemEntropy, request));
        assert_eq!(result.is_ok(), expected_ok);
        if !expected_ok {
            match result {
                Err(CoreError::Conflict(refusal)) => {
                    assert_eq!(refusal.field.as_deref(), Some("id"), "named");
                }
                other => panic!("expected a conflict, got {other:?}"),
            }
        }
    }
}

#[test]
fn a_key_is_shown_once_and_only_its_hash_is_stored() {
    let store = MemoryStore::new();
    let request = parse_json(br#"{"id":"ads","name":"Ads"}"#).unwrap();
    block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap();
    let created = block_on(create_key(
        &store,
        &store,
        &clock(),
        &SystemEntropy,
        "ads",
        NewKeyRequest::default(),
    ))
    .unwrap();
    assert!(created.key.starts_with("ast_"));
    assert_eq!(created.key.len(), 4 + 48);
    assert_eq!(created.record.prefix, created.key[..12]);
    assert_eq!(created.record.key_hash, hash_key(&created.key));
    let listed = block_on(list_keys(&store, &store, "ads")).unwrap();
    let listed_json = serde_json::to_string(&listed).unwrap();
    assert!(!listed_json.contains(&created.key));
    assert!(!listed_json.contains(&created.record.key_hash));
}

#[test]
fn project_keys_authenticate_until_revoked_and_admin_keys_compare_exactly() {
    let store = MemoryStore::new();
    let request = parse_json(br#"{"id":"ads","name":"Ads"}"#).unwrap();
    block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap();
    let created = block_on(create_key(
        &store,
        &store,
        &clock(),
        &SystemEntropy,
        "ads",
        NewKeyRequest::default(),
    ))
    .unwrap();
    let header = format!("Bearer {}", created.key);
    let principal = block_on(authenticate(Some(&header), Some("admin-secret"), &store)).unwrap();
    assert_eq!(
        principal,
        Principal::Project {
            project_id: ProjectId::parse("ads").unwrap(),
            key_id: created.record.id.clone()
        }
    );
    assert_eq!(
        block_on(authenticate(
            Some("Bearer admin-secret"),
            Some("admin-secret"),
            &store
        ))
        .unwrap(),
        Principal::Admin
    );
    for wrong in [
        "Bearer admin-secreT",
        "Bearer ast_nope",
        "Basic abc",
        "Bearer ",
    ] {
        assert!(matches!(
            block_on(authenticate(Some(wrong), Some("admin-secret"), &store)),
            Err(CoreError::Unauthenticated(_))
        ));
    }
    block_on(revoke_key(
        &store,
        &store,
        &clock(),
        "ads",
        &created.record.id,
    ))
    .unwrap();
    assert!(matches!(
        block_on(authenticate(Some(&header), Some("admin-secret"), &store)),
        Err(CoreError::Unauthenticated(_))
    ));
    assert!(matches!(
        block_on(revoke_key(
            &store,
            &store,
            &clock(),
            "ads",
            &created.record.id
        )),
        Err(CoreError::NotFound(_))
    ));
}

#[test]
fn an_empty_admin_secret_never_matches() {
    let store = MemoryStore::new();
    assert!(block_on(authenticate(Some("Bearer x"), Some(""), &store)).is_err());
    assert!(block_on(authenticate(Some("Bearer x"), None, &store)).is_err());
}

#[test]
fn a_project_key_is_scoped_to_its_own_project() {
    let own = ProjectId::parse("ads").unwrap();
    let other = ProjectId::parse("other").unwrap();
    let principal = Principal::Project {
        project_id: own.clone(),
        key_id: "k".into(),
    };
    assert_eq!(principal.scope_to(None).unwrap(), Some(own.clone()));
    assert_eq!(principal.scope_to(Some(&own)).unwrap(), Some(own.clone()));
    match principal.scope_to(Some(&other)) {
        Err(CoreError::Forbidden(refusal)) => {
            assert_eq!(refusal.field.as_deref(), Some("project_id"), "named");
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    assert!(matches!(
        principal.require_admin(),
        Err(CoreError::Forbidden(_))
    ));
    assert_eq!(
        Principal::Admin.scope_to(Some(&other)).unwrap(),
        Some(other)
    );
}

#[test]
fn bearer_tokens_are_read_case_insensitively_and_secrets_compare_fully() {
    assert_eq!(bearer_token(Some("bearer abc")).unwrap(), "abc");
    assert!(bearer_token(None).is_err());
    assert!(secrets_equal("abc", "abc"));
    assert!(!secrets_equal("abc", "abcd"));
}

#[test]
fn deleting_a_project_removes_its_keys() {
    let store = MemoryStore::new();
    let request = parse_json(br#"{"id":"ads","name":"Ads"}"#).unwrap();
    block_on(create_project(&store, &clock(), &SystemEntropy, request)).unwrap();
    let created = block_on(create_key(
        &store,
        &store,
        &clock(),
        &SystemEntropy,
        "ads",
        NewKeyRequest::default(),
    ))
    .unwrap();
    block_on(delete_project(&store, "ads")).unwrap();
    let header = format!("Bearer {}", created.key);
    assert!(block_on(authenticate(Some(&header), None, &store)).is_err());
    assert!(matches!(
        block_on(delete_project(&store, "ads")),
        Err(CoreError::NotFound(_))
    ));
}
