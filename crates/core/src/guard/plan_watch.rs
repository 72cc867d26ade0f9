//! Watching the plans and workload profiles that count a project's usage between checks,
//! so that recording usage can tell when a request brings a plan to its alert level or a
//! profile below its capacity floor (and the check must run now, after the answer) without
//! reading the database.
//!
//! A [`PlanWatch`] holds the states of the plans that count the project's usage (its own and
//! the global ones) and its profiles with an alert level, with their items resolved. Each
//! stored event is measured in each plan's unit exactly as the plan's state measures its
//! rollups, and the alert rules are those of the check itself
//! ([`allotment_level_due`], [`capacity_floor_due`]), so the watch and the check agree on
//! what is due. Usage of other projects counts in a global plan too: it is seen when the
//! watch is taken again (at most a minute later), by comparing with the watch it replaces.

use crate::budgets::alerts::{allotment_level_due, capacity_floor_due};
use crate::kernel::limits::LimitMode;
use crate::plans::{measure_of, profile_capacity, PlanState, Profile, ProfileItem};
use crate::reports::report::RollupRow;
use crate::usage::record::StoredEvent;

use super::watch::State;

/// A profile as the watch keeps it: its items (learned ones resolved) and how many jobs
/// they were learned from.
pub type WatchedProfile = (Profile, Vec<ProfileItem>, Option<i64>);

/// What recording usage knows of the plans and profiles that count a project's usage.
#[derive(Debug, Clone)]
pub struct PlanWatch {
    project: String,
    states: Vec<PlanState>,
    profiles: Vec<WatchedProfile>,
    /// The alerts due now, by key: plan levels reached and profiles below their floor (sorted,
    /// each once).
    due: Vec<String>,
}

impl PlanWatch {
    /// The watch of `project` from every plan's state and the profiles that concern it;
    /// `None` when there is nothing to watch (no plan with an alert level or in block mode,
    /// no profile with an alert level).
    pub fn of(
        project: &str,
        states: Vec<PlanState>,
        profiles: Vec<WatchedProfile>,
    ) -> Option<PlanWatch> {
        let concerns = |owner: Option<&str>| owner.is_none_or(|p| p == project);
        let states: Vec<PlanState> = states
            .into_iter()
            .filter(|s| s.in_force() && concerns(s.plan.project_id.as_deref()))
            .collect();
        let profiles: Vec<WatchedProfile> = profiles
            .into_iter()
            .filter(|(p, ..)| p.alert_below.is_some() && concerns(p.project_id.as_deref()))
            .collect();
        let watched = !profiles.is_empty()
            || states
                .iter()
                .any(|s| s.plan.alert_percent.is_some() || s.plan.mode == LimitMode::Block);
        if !watched {
            return None;
        }
        let mut watch = PlanWatch {
            project: project.to_string(),
            states,
            profiles,
            due: Vec::new(),
        };
        watch.due = watch.due_now();
        Some(watch)
    }

    /// The keys of the alerts due with the use as it stands.
    fn due_now(&self) -> Vec<String> {
        let mut due = Vec::new();
        for state in &self.states {
            if let Some(level) = allotment_level_due(state) {
                let plan = &state.plan;
                let scope = plan.project_id.as_deref().unwrap_or("");
                due.push(format!(
                    "plan {} {scope} {} {level}",
                    plan.provider,
                    plan.unit.name()
                ));
            }
        }
        for (profile, items, learned_from) in &self.profiles {
            let capacity = profile_capacity(
                profile,
                items.clone(),
                *learned_from,
                &self.states,
                profile.project_id.as_deref(),
            );
            if capacity_floor_due(&capacity).is_some() {
                let scope = profile.project_id.as_deref().unwrap_or("");
                due.push(format!("capacity {} {scope}", profile.name));
            }
        }
        crate::kernel::sort::distinct(due)
    }

    /// Whether an alert due now was not due in `then`.
    fn newly_due(&self, then: &[String]) -> bool {
        self.due.iter().any(|k| then.binary_search(k).is_err())
    }

    /// Moves each plan's use by `events` (of this project; others are left out), added or,
    /// with `sign` -1, taken away.
    fn shift(&mut self, events: &[StoredEvent], sign: i128) {
        for state in &mut self.states {
            let plan = &state.plan;
            let rows: Vec<RollupRow> = events
                .iter()
                .filter(|e| e.project_id == self.project && e.provider == plan.provider)
                .filter(|e| plan.project_id.as_deref().is_none_or(|p| p == e.project_id))
                .map(RollupRow::of_event)
                .collect();
            if !rows.is_empty() {
                state.used += sign * measure_of(plan, &rows);
            }
        }
    }

    /// Adds events just stored; `true` when they make an alert due that was not, so that the
    /// check must run now.
    pub fn add(&mut self, events: &[StoredEvent]) -> bool {
        if events.is_empty() {
            return false;
        }
        self.shift(events, 1);
        let due = self.due_now();
        let before = std::mem::replace(&mut self.due, due);
        self.newly_due(&before)
    }

    /// Whether a watch taken after `events` were stored has an alert due that was not due
    /// before them, or not due in `older` (the watch it replaces, which may not have seen
    /// other requests' usage of a global plan).
    pub fn reached_by(&self, events: &[StoredEvent], older: Option<&PlanWatch>) -> bool {
        let mut before = self.clone();
        before.shift(events, -1);
        let before = before.due_now();
        self.newly_due(&before) || older.is_some_and(|o| self.newly_due(&o.due))
    }

    /// The plans' part of the project's guard state: `blocked` when a plan in block mode
    /// has nothing left above its reserve, `warn` when an alert is due, else `ok`.
    pub fn state(&self) -> (State, Option<&'static str>) {
        let exhausted = self
            .states
            .iter()
            .any(|s| s.plan.mode == LimitMode::Block && s.available().is_some_and(|a| a <= 0));
        if exhausted {
            return (State::Blocked, Some("plan"));
        }
        if self.due.iter().any(|k| k.starts_with("plan ")) {
            return (State::Warn, Some("plan"));
        }
        if !self.due.is_empty() {
            return (State::Warn, Some("capacity"));
        }
        (State::Ok, None)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use pollster::block_on;
    use serde_json::{json, Value};

    use super::*;
    use crate::access::auth::Principal;
    use crate::access::projects::{create_project, ProjectId};
    use crate::budgets::alerts::{check_budgets, check_project, AlertConfig, Mode, Notifier};
    use crate::kernel::clock::{FixedClock, SystemEntropy};
    use crate::plans::store::PlanStore;
    use crate::plans::{known_providers, profiles_in, states_of, PlanInput, ProfileInput};
    use crate::usage::fixtures::{now, World};

    fn put_plan(world: &World, body: Value) {
        let plan = serde_json::from_value::<PlanInput>(body)
            .unwrap()
            .validate()
            .unwrap();
        let long_ago = now() - chrono::Duration::days(400);
        block_on(world.store.save_plan(&plan, long_ago)).unwrap();
    }

    fn put_profile(world: &World, body: Value) {
        let known = known_providers(&block_on(world.store.plans()).unwrap());
        let profile = serde_json::from_value::<ProfileInput>(body)
            .unwrap()
            .validate(&known)
            .unwrap();
        block_on(world.store.save_profile(&profile)).unwrap();
    }

    /// Records HeyGen credits for `project` now; the events stored.
    fn credits(world: &World, project: &ProjectId, amounts: &[&str]) -> Vec<StoredEvent> {
        let events: Vec<Value> = amounts
            .iter()
            .map(|c| json!({"provider": "heygen", "credits": c, "operation": "video"}))
            .collect();
        let key = Principal::Project {
            project_id: project.clone(),
            key_id: "k".into(),
        };
        world
            .send_as(&key, json!({ "events": events }))
            .unwrap()
            .stored_events
    }

    fn take(world: &World, project: &ProjectId, at: DateTime<Utc>) -> Option<PlanWatch> {
        let plans = block_on(world.store.plans()).unwrap();
        let states = block_on(states_of(plans, &world.store, at)).unwrap();
        let profiles = block_on(profiles_in(
            &states,
            &world.store,
            &world.store,
            at,
            Some(project.as_str()),
        ))
        .unwrap();
        PlanWatch::of(project.as_str(), states, profiles)
    }

    fn second_project(world: &World) -> ProjectId {
        let request =
            serde_json::from_value(json!({"id": "podcasts", "name": "Podcasts"})).unwrap();
        block_on(create_project(
            &world.store,
            &FixedClock(now()),
            &SystemEntropy,
            request,
        ))
        .unwrap()
        .id
    }

    #[test]
    fn nothing_is_watched_without_an_alert_level_a_block_mode_or_a_floor() {
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}}),
        );
        assert!(take(&world, &world.project, now()).is_none());
    }

    #[test]
    fn a_plan_watch_says_once_when_usage_brings_a_plan_to_its_alert_percent() {
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "alert_percent": 80}),
        );
        credits(&world, &world.project, &["7"]);
        let mut watch = take(&world, &world.project, now()).unwrap();
        assert_eq!(watch.state(), (State::Ok, None));
        let half = credits(&world, &world.project, &["0.5"]);
        assert!(!watch.add(&half), "7.5 of 10 is 75%");
        let half = credits(&world, &world.project, &["0.5"]);
        assert!(watch.add(&half), "8 of 10 reaches 80%");
        assert_eq!(watch.state(), (State::Warn, Some("plan")));
        let half = credits(&world, &world.project, &["0.5"]);
        assert!(!watch.add(&half), "80% was reached already");
        assert!(!watch.add(&[]), "nothing stored reaches nothing");
    }

    #[test]
    fn a_profile_falling_below_its_floor_is_reached_and_the_reserve_counts() {
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "reserve": "2"}),
        );
        put_profile(
            &world,
            json!({"name": "clip", "alert_below": 5, "items": [{"provider": "heygen", "amount": "0.5", "unit": "credits"}]}),
        );
        // 8 credits above the reserve, 5.5 used: 2.5 left, 5 clips.
        credits(&world, &world.project, &["5.5"]);
        let mut watch = take(&world, &world.project, now()).unwrap();
        assert_eq!(watch.state(), (State::Ok, None));
        let clip = credits(&world, &world.project, &["0.5"]);
        assert!(watch.add(&clip), "4 clips left is below 5");
        assert_eq!(watch.state(), (State::Warn, Some("capacity")));
    }

    #[test]
    fn a_watch_taken_after_a_request_tells_whether_it_or_others_since_the_last_watch_reached_a_level(
    ) {
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "alert_percent": 80}),
        );
        credits(&world, &world.project, &["7"]);
        let older = take(&world, &world.project, now()).unwrap();
        let crossing = credits(&world, &world.project, &["1.5"]);
        let taken = take(&world, &world.project, now()).unwrap();
        assert!(taken.reached_by(&crossing, None), "7 -> 8.5 reaches 80%");
        let after = credits(&world, &world.project, &["0.5"]);
        let again = take(&world, &world.project, now()).unwrap();
        assert!(!again.reached_by(&after, Some(&taken)), "past 80% already");
        // The global plan counts the other project's usage too: this project's watch sees
        // it by comparing with the watch it replaces.
        let world = World::new();
        let other_too = second_project(&world);
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "alert_percent": 80}),
        );
        credits(&world, &world.project, &["7"]);
        let older_here = take(&world, &world.project, now()).unwrap();
        credits(&world, &other_too, &["2"]);
        let mine = credits(&world, &world.project, &["0.1"]);
        let taken = take(&world, &world.project, now()).unwrap();
        assert!(!taken.reached_by(&mine, None), "0.1 alone moved 9 -> 9.1");
        assert!(taken.reached_by(&mine, Some(&older_here)));
        assert!(!older.reached_by(&[], None));
    }

    #[test]
    fn another_projects_plan_is_not_in_the_watch_and_its_usage_moves_nothing() {
        let world = World::new();
        let other = second_project(&world);
        put_plan(
            &world,
            json!({"provider": "heygen", "project_id": "podcasts", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "alert_percent": 80}),
        );
        assert!(
            take(&world, &world.project, now()).is_none(),
            "podcasts' plan is not video-ads' concern"
        );
        let mut theirs = take(&world, &other, now()).unwrap();
        let mine = credits(&world, &world.project, &["9"]);
        assert!(
            !theirs.add(&mine),
            "video-ads' usage does not count in podcasts' plan"
        );
        let own = credits(&world, &other, &["8"]);
        assert!(theirs.add(&own));
    }

    #[test]
    fn a_block_mode_plan_with_nothing_left_above_its_reserve_blocks_the_project() {
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "reserve": "2", "mode": "block"}),
        );
        let mut watch = take(&world, &world.project, now()).unwrap();
        let used = credits(&world, &world.project, &["7.5"]);
        watch.add(&used);
        assert_eq!(watch.state(), (State::Ok, None));
        let last = credits(&world, &world.project, &["0.5"]);
        watch.add(&last);
        assert_eq!(watch.state(), (State::Blocked, Some("plan")));
    }

    struct Quiet;

    impl Notifier for Quiet {
        async fn send_email(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
            Ok(())
        }
        async fn post_webhook(
            &self,
            _: &str,
            _: &str,
            _: &[(String, String)],
        ) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn a_projects_check_runs_its_own_and_global_plan_checks_and_never_another_projects() {
        let world = World::new();
        let other = second_project(&world);
        for (provider, project) in [
            ("heygen", Some("video-ads")),
            ("loudly", Some("podcasts")),
            ("elevenlabs", None),
        ] {
            let mut plan = json!({"provider": provider, "monthly_fee": "1", "allotment": {"amount": "1", "unit": "credits"}, "alert_percent": 1, "alert_emails": ["ops@example.com"]});
            if let Some(p) = project {
                plan["project_id"] = json!(p);
            }
            put_plan(&world, plan);
        }
        for (project, provider) in [
            (&world.project, "heygen"),
            (&other, "loudly"),
            (&world.project, "elevenlabs"),
        ] {
            let key = Principal::Project {
                project_id: project.clone(),
                key_id: "k".into(),
            };
            world
                .send_as(
                    &key,
                    json!({"events": [{"provider": provider, "credits": "1"}]}),
                )
                .unwrap();
        }
        let run = |scoped: bool| {
            let stores = &world.store;
            let clock = FixedClock(now());
            let config = AlertConfig::default();
            let report = if scoped {
                block_on(check_project(
                    stores,
                    stores,
                    stores,
                    &Quiet,
                    &clock,
                    &SystemEntropy,
                    &config,
                    Mode::DryRun,
                    Some(&world.project),
                ))
            } else {
                block_on(check_budgets(
                    stores,
                    stores,
                    stores,
                    &Quiet,
                    &clock,
                    &SystemEntropy,
                    &config,
                    Mode::DryRun,
                    Some(&world.project),
                ))
            };
            let mut providers: Vec<String> = report
                .unwrap()
                .plans
                .iter()
                .map(|p| p.provider.clone())
                .collect();
            providers.sort();
            providers
        };
        assert_eq!(run(true), vec!["elevenlabs", "heygen"]);
        assert!(
            run(false).is_empty(),
            "a budget check of one project stays without plans"
        );
    }
}
