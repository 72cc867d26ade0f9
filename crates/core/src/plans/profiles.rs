//! Workload profiles: what one unit of work (a clip, an episode) uses, given or learned.

use super::*;

/// A workload profile: what one unit of work consumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: String,
    pub project_id: Option<String>,
    /// Admin-defined items; empty when learned.
    pub items: Vec<ProfileItem>,
    /// Learn from past jobs with these operations (all when empty) over `learn_days`.
    pub learn: Option<LearnSpec>,
    /// Alert when fewer than this many units of work fit.
    pub alert_below: Option<u32>,
}

crate::object_reader!(
    Profile,
    skip {
        name: required,
        project_id: default,
        items: required,
        learn: default,
        alert_below: default,
    }
);

impl Profile {
    /// The profile's key: its name and project (`""` for a global profile). Two projects may
    /// each have a profile of the same name; saving one never replaces the other.
    pub fn key(&self) -> (String, String) {
        (
            self.name.clone(),
            self.project_id.clone().unwrap_or_default(),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileItem {
    pub provider: String,
    pub amount: String,
    pub unit: Unit,
}

crate::object_reader!(
    ProfileItem,
    skip {
        provider: required,
        amount: required,
        unit: required,
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LearnSpec {
    pub operations: Vec<String>,
    pub days: u32,
}

crate::object_reader!(
    LearnSpec,
    skip {
        operations: required,
        days: required,
    }
);

#[derive(Debug)]
pub struct ProfileInput {
    pub name: String,
    pub project_id: Option<String>,
    pub items: Option<Vec<ProfileItemInput>>,
    pub learn: Option<LearnInput>,
    pub alert_below: Option<i64>,
}

crate::object_reader!(
    ProfileInput,
    deny {
        name: required,
        project_id: default,
        items: default,
        learn: default,
        alert_below: default,
    }
);

#[derive(Debug)]
pub struct ProfileItemInput {
    pub provider: String,
    pub amount: DecimalText,
    pub unit: String,
}

crate::object_reader!(
    ProfileItemInput,
    deny {
        provider: required,
        amount: required,
        unit: required,
    }
);

#[derive(Debug)]
pub struct LearnInput {
    pub operations: Option<Vec<String>>,
    pub days: Option<i64>,
}

crate::object_reader!(
    LearnInput,
    deny {
        operations: default,
        days: default,
    }
);

impl ProfileInput {
    /// Checks the profile; `known` are the providers it may name (those with a plan or a price).
    pub fn validate(self, known: &[String]) -> Result<Profile, CoreError> {
        let mut p = Problems::new();
        let name = self.name.trim().to_string();
        if name.is_empty() || name.len() > 64 || name.chars().any(hidden_character) {
            p.push("name", "must be 1 to 64 printable characters");
        }
        let project_id = match &self.project_id {
            Some(id) => p
                .take(ProjectId::parse(id).map_err(|m| FieldError::new("project_id", m)))
                .map(|id| id.as_str().to_string()),
            None => None,
        };
        let mut items = Vec::new();
        for (i, item) in self.items.unwrap_or_default().into_iter().enumerate() {
            let provider = canonical_provider(&item.provider.trim().to_ascii_lowercase());
            if !known.contains(&provider) {
                p.push(
                    format!("items[{i}].provider"),
                    format!(
                        "`{}` is not a provider with a plan or a price",
                        item.provider
                    ),
                );
            }
            let unit = Unit::parse(item.unit.trim());
            if unit.is_none() {
                p.push(
                    format!("items[{i}].unit"),
                    format!("`{}` is not a unit", item.unit),
                );
            }
            // As precise as the plans counting it: money to the nano, other units to the
            // millionth (a finer amount would count as nothing).
            let scale = unit.map_or(9, Unit::scale);
            match non_negative(&format!("items[{i}].amount"), &item.amount.0, scale) {
                Ok(0) => p.push(format!("items[{i}].amount"), "must be greater than zero"),
                Ok(_) => {}
                Err(e) => p.take::<()>(Err(e)).unwrap_or_default(),
            }
            if let Some(unit) = unit {
                if items
                    .iter()
                    .any(|x: &ProfileItem| x.provider == provider && x.unit == unit)
                {
                    p.push(
                        format!("items[{i}].provider"),
                        "is given twice in this unit: give one amount per provider and unit",
                    );
                }
                items.push(ProfileItem {
                    provider,
                    amount: item.amount.0.trim().to_string(),
                    unit,
                });
            }
        }
        let learn = self.learn.map(|l| {
            let days = l.days.unwrap_or(30);
            if !(1..=365).contains(&days) {
                p.push("learn.days", "must be from 1 to 365");
            }
            LearnSpec {
                operations: l.operations.unwrap_or_default(),
                days: days.clamp(1, 365) as u32,
            }
        });
        if items.is_empty() == learn.is_none() {
            p.push("items", "give either items or learn");
        }
        let alert_below = match self.alert_below {
            Some(v) if (1..=1_000_000).contains(&v) => Some(v as u32),
            Some(_) => {
                p.push("alert_below", "must be a whole number from 1 to 1000000");
                None
            }
            None => None,
        };
        p.finish()?;
        Ok(Profile {
            name,
            project_id,
            items,
            learn,
            alert_below,
        })
    }
}
