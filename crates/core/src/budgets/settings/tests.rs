//! `PATCH /api/admin/projects/{id}` and the budget it may carry.

use pollster::block_on;
use serde_json::json;

use super::{get_budget, parse_project_patch, patch_project};
use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::kernel::money::Currency;
use crate::usage::fixtures::{now, World};

fn patch(
    world: &World,
    body: serde_json::Value,
) -> Result<crate::access::projects::Project, CoreError> {
    patch_with_settings(world, body).map(|(project, _)| project)
}

fn patch_with_settings(
    world: &World,
    body: serde_json::Value,
) -> Result<
    (
        crate::access::projects::Project,
        Option<super::BudgetSettings>,
    ),
    CoreError,
> {
    let request = parse_project_patch(body.to_string().as_bytes())?;
    block_on(patch_project(
        &world.store,
        &FixedClock(now()),
        &SystemEntropy,
        "video-ads",
        request,
    ))
}

#[test]
fn renaming_a_project_keeps_a_budget_in_another_currency_and_its_levels() {
    let world = World::new();
    world.set_budget(
        json!({"budget": {"amount": "10", "currency": "EUR"}, "alert_levels": [30, 60, 100]}),
    );
    let renamed = patch(&world, json!({"description": "renamed only"})).unwrap();
    assert_eq!(renamed.description.as_deref(), Some("renamed only"));
    let settings = block_on(get_budget(&world.store, "video-ads")).unwrap();
    assert_eq!(
        (
            settings.amount.map(|m| (m.amount_string(), m.currency)),
            settings.levels.clone()
        ),
        (
            Some(("10.00".to_string(), Currency::parse("EUR").unwrap())),
            vec![30, 60, 100]
        )
    );
}

#[test]
fn the_project_bodys_dollar_budget_and_percent_are_applied_as_the_budget_route_applies_them() {
    let world = World::new();
    world.set_budget(
        json!({"budget": {"amount": "10", "currency": "EUR"}, "alert_levels": [30, 60, 100]}),
    );
    let project = patch(
        &world,
        json!({"budget_threshold_usd": "50", "budget_alert_threshold_percent": 90}),
    )
    .unwrap();
    assert_eq!(
        project.budget_threshold_usd.map(|m| m.amount_string()),
        Some("50.00".to_string())
    );
    let settings = block_on(get_budget(&world.store, "video-ads")).unwrap();
    assert_eq!(
        settings.amount.map(|m| (m.amount_string(), m.currency)),
        Some(("50.00".to_string(), Currency::USD)),
        "a dollar amount is a dollar budget"
    );
    assert_eq!(settings.alert_threshold_percent, 90);
    assert_eq!(
        settings.effective_levels(),
        vec![90, 100],
        "the percent replaces the levels"
    );
}

#[test]
fn a_bad_name_and_a_bad_budget_are_both_named_and_nothing_is_written() {
    let world = World::new();
    let before = block_on(get_budget(&world.store, "video-ads")).unwrap();
    let fields = match patch(&world, json!({"name": " ", "budget_threshold_usd": "-5"})) {
        Err(CoreError::Validation(details)) => {
            details.into_iter().map(|d| d.field).collect::<Vec<_>>()
        }
        other => panic!("expected a 400, got {other:?}"),
    };
    assert_eq!(fields, vec!["name", "budget_threshold_usd"]);
    assert_eq!(
        block_on(get_budget(&world.store, "video-ads")).unwrap(),
        before
    );
    let project = block_on(crate::access::projects::get_project(
        &world.store,
        "video-ads",
    ))
    .unwrap();
    assert_eq!(project.name, "Video ads");
}

#[test]
fn a_patch_changes_only_the_fields_it_names_null_clears_and_the_percent_reaches_the_budget() {
    let world = World::new();
    patch(
        &world,
        json!({"description": "d", "budget_threshold_usd": "50"}),
    )
    .unwrap();
    let updated = patch(
        &world,
        json!({"description": null, "budget_alert_threshold_percent": 90}),
    )
    .unwrap();
    assert_eq!(updated.name, "Video ads");
    assert_eq!(updated.description, None);
    assert_eq!(updated.budget_threshold_usd.unwrap().nanos, 50_000_000_000);
    assert_eq!(updated.budget_alert_threshold_percent, 90);
    assert_eq!(updated.updated_at, now());
}

#[test]
fn an_invalid_patch_changes_nothing_and_hidden_characters_are_named() {
    let world = World::new();
    let before = block_on(crate::access::projects::get_project(
        &world.store,
        "video-ads",
    ))
    .unwrap();
    for (body, field) in [
        (
            json!({"name": "New", "budget_alert_threshold_percent": 1001}),
            "budget_alert_threshold_percent",
        ),
        (json!({"name": "Ads \u{202e}"}), "name"),
        (json!({"client": "Acme\u{200d}"}), "client"),
    ] {
        let fields = match patch(&world, body.clone()) {
            Err(CoreError::Validation(details)) => {
                details.into_iter().map(|d| d.field).collect::<Vec<_>>()
            }
            other => panic!("expected a 400, got {other:?}"),
        };
        assert_eq!(fields, vec![field], "{body}");
    }
    let after = block_on(crate::access::projects::get_project(
        &world.store,
        "video-ads",
    ))
    .unwrap();
    assert_eq!(after, before);
}

#[test]
fn an_alerts_claim_or_send_holds_it_back_only_within_its_window_and_its_period() {
    use super::AlertKey;
    let daily = AlertKey {
        since: Some("2026-11-20T05:00:00.000Z".into()),
        ..AlertKey::new("video-ads", "daily")
    };
    let window = "2026-11-19T12:00:00.000Z";
    assert!(daily.held_by("2026-11-20T06:00:00.000Z", window));
    assert!(
        !daily.held_by("2026-11-20T04:59:59.999Z", window),
        "sent the day before, within 24 hours"
    );
    assert!(!AlertKey::new("video-ads", "daily").held_by("2026-11-19T11:00:00.000Z", window));
    assert!(AlertKey::new("video-ads", "daily").held_by("2026-11-20T04:00:00.000Z", window));
    // Keys are one key whatever their period: claims and logs are found by scope and level.
    assert_eq!(daily, AlertKey::new("video-ads", "daily"));
}

#[test]
fn a_project_patch_with_a_null_alert_percent_sets_the_default_back() {
    let world = World::new();
    world.set_budget(json!({"budget_alert_threshold_percent": 95}));
    let updated = patch(&world, json!({"budget_alert_threshold_percent": null})).unwrap();
    assert_eq!(updated.budget_alert_threshold_percent, 80);
    let settings = block_on(get_budget(&world.store, "video-ads")).unwrap();
    assert_eq!(
        (
            settings.alert_threshold_percent,
            settings.effective_levels()
        ),
        (80, vec![80, 100])
    );
}

#[test]
fn a_dollar_budget_over_a_euro_daily_limit_is_refused_unless_the_same_patch_gives_the_limit_again()
{
    let world = World::new();
    world.set_budget(json!({"daily_limit": {"amount": "5", "currency": "EUR"}}));
    let before = block_on(get_budget(&world.store, "video-ads")).unwrap();
    let fields = match patch(&world, json!({"budget_threshold_usd": "50"})) {
        Err(CoreError::Validation(details)) => {
            details.into_iter().map(|d| d.field).collect::<Vec<_>>()
        }
        other => panic!("expected a 400, got {other:?}"),
    };
    assert_eq!(fields, vec!["daily_limit"]);
    assert_eq!(
        block_on(get_budget(&world.store, "video-ads")).unwrap(),
        before
    );
    // The project's route takes every budget setting, as its POST does.
    let (project, settings) = patch_with_settings(
        &world,
        json!({"name": "Video", "budget_threshold_usd": "50", "daily_limit": "4", "alert_levels": [50, 90]}),
    )
    .unwrap();
    let settings = settings.unwrap();
    assert_eq!(
        (
            project.name.as_str(),
            settings.project_name.as_str(),
            settings.amount.map(|m| m.amount_string()),
            settings
                .daily_limit
                .map(|m| (m.amount_string(), m.currency)),
            settings.levels.clone(),
        ),
        (
            "Video",
            "Video",
            Some("50.00".to_string()),
            Some(("4.00".to_string(), Currency::USD)),
            vec![50, 90]
        )
    );
    assert_eq!(
        block_on(get_budget(&world.store, "video-ads")).unwrap(),
        settings
    );
    // The project's own fields alone answer no settings; an unknown field is named.
    assert!(patch_with_settings(&world, json!({"description": "d"}))
        .unwrap()
        .1
        .is_none());
    let fields = match patch(&world, json!({"name": "X", "id": "other"})) {
        Err(CoreError::Validation(details)) | Err(CoreError::MalformedBody { details, .. }) => {
            details.into_iter().map(|d| d.field).collect::<Vec<_>>()
        }
        other => panic!("expected a 400, got {other:?}"),
    };
    assert!(fields.contains(&"id".to_string()), "{fields:?}");
}

#[test]
fn a_project_patch_that_nulls_the_name_is_refused_naming_it_and_changes_nothing() {
    let world = World::new();
    let before = block_on(crate::access::projects::get_project(
        &world.store,
        "video-ads",
    ))
    .unwrap();
    let refused = patch(&world, json!({"name": null, "description": "kept out"})).unwrap_err();
    let CoreError::Validation(details) = refused else {
        panic!("expected a validation error, got {refused:?}");
    };
    assert_eq!(
        details.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
        ["name"]
    );
    assert!(
        details[0].message.contains("must not be null"),
        "{}",
        details[0].message
    );
    let after = block_on(crate::access::projects::get_project(
        &world.store,
        "video-ads",
    ))
    .unwrap();
    assert_eq!(
        (after.name, after.description, after.updated_at),
        (before.name, before.description, before.updated_at)
    );
}

#[test]
fn an_unknown_field_of_a_project_patch_is_told_with_the_projects_own_fields_and_the_budgets() {
    let world = World::new();
    let refused = patch(&world, json!({"nmae": "Ads"})).unwrap_err();
    let CoreError::MalformedBody { message, details } = refused else {
        panic!("expected a malformed body, got {refused:?}");
    };
    for told in [&message, &details[0].message] {
        assert!(
            told.contains("unknown field `nmae`, expected one of `name`, `description`, `client`, `budget_threshold_usd`, "),
            "{told}"
        );
        assert!(
            told.ends_with("`alert_emails`") || told.contains("`alert_emails`, "),
            "{told}"
        );
    }
    assert_eq!(details[0].field, "nmae");
    // Inside a setting, the setting's own fields are the ones offered.
    let nested = patch(&world, json!({"budget": {"amout": "1", "currency": "USD"}})).unwrap_err();
    let CoreError::MalformedBody { message, details } = nested else {
        panic!("expected a malformed body, got {nested:?}");
    };
    assert_eq!(details[0].field, "budget.amout");
    assert!(
        message.ends_with("unknown field `amout`, expected `amount` or `currency`"),
        "{message}"
    );
    assert!(!message.contains("`name`"), "{message}");
}
