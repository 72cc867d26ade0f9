//! Price services: custom prices (global or per project) that win over the built-in catalog,
//! LiteLLM import, the effective catalog, and pricing one event.

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::access::projects::{get_project, ProjectId};
use crate::access::store::ProjectStore;
use crate::kernel::error::{CoreError, FieldError};
use crate::kernel::money::Money;
use crate::pricing::catalog::{
    builtin, candidate_names, Catalog, EntryInput, Origin, PriceBook, PriceEntry,
};
use crate::pricing::litellm::{self, Skipped};
use crate::pricing::store::PriceStore;
use crate::pricing::{Quote, Unpriced};

/// Body of `POST /api/admin/prices`.
#[derive(Debug)]
pub struct CustomPricesRequest {
    /// When set, the entries apply to this project only.
    pub project_id: Option<String>,
    pub entries: Vec<EntryInput>,
}

crate::object_reader!(
    CustomPricesRequest,
    deny {
        project_id: default,
        entries: required,
    }
);

/// The stable id of a custom entry: one per provider, model, date and scope.
pub fn custom_price_id(entry: &PriceEntry, project: Option<&ProjectId>) -> String {
    let scope = project.map(ProjectId::as_str).unwrap_or("");
    let key = format!(
        "{}|{}|{}|{}",
        entry.provider, entry.model, entry.effective_from, scope
    );
    format!("prc_{}", &hex::encode(Sha256::digest(key.as_bytes()))[..16])
}

fn with_custom_origin(mut entry: PriceEntry, project: Option<&ProjectId>) -> PriceEntry {
    entry.origin = Origin::Custom {
        id: custom_price_id(&entry, project),
        project_id: project.cloned(),
    };
    entry
}

async fn resolve_project(
    projects: &impl ProjectStore,
    project_id: Option<&str>,
) -> Result<Option<ProjectId>, CoreError> {
    match project_id {
        Some(id) => {
            let parsed = ProjectId::parse(id).map_err(|m| CoreError::invalid("project_id", m))?;
            get_project(projects, parsed.as_str()).await?;
            Ok(Some(parsed))
        }
        None => Ok(None),
    }
}

/// Adds or overrides custom entries; all or nothing.
pub async fn add_custom_prices(
    projects: &impl ProjectStore,
    prices: &impl PriceStore,
    request: CustomPricesRequest,
) -> Result<Vec<PriceEntry>, CoreError> {
    let project = resolve_project(projects, request.project_id.as_deref()).await?;
    if request.entries.is_empty() {
        return Err(CoreError::invalid(
            "entries",
            "must contain at least one entry",
        ));
    }
    if request.entries.len() > 1000 {
        return Err(CoreError::invalid(
            "entries",
            "at most 1000 entries per request",
        ));
    }
    let mut parsed = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    for (i, input) in request.entries.iter().enumerate() {
        match input.parse(&format!("entries[{i}]"), Origin::Builtin) {
            Ok(e) => parsed.push(with_custom_origin(e, project.as_ref())),
            Err(mut es) => errors.append(&mut es),
        }
    }
    if !errors.is_empty() {
        return Err(CoreError::Validation(errors));
    }
    prices.upsert_prices(&parsed).await?;
    Ok(parsed)
}

#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub imported: usize,
    pub skipped: Vec<Skipped>,
    pub dry_run: bool,
    pub effective_from: NaiveDate,
    pub project_id: Option<ProjectId>,
    pub entries: Vec<PriceView>,
}

/// Imports LiteLLM's price file as custom entries effective from `effective_from`.
pub async fn import_litellm(
    projects: &impl ProjectStore,
    prices: &impl PriceStore,
    body: &serde_json::Value,
    effective_from: NaiveDate,
    project_id: Option<&str>,
    providers: Option<&[String]>,
    dry_run: bool,
) -> Result<ImportReport, CoreError> {
    let project = resolve_project(projects, project_id).await?;
    let import =
        litellm::convert(body, &effective_from.to_string()).map_err(CoreError::Validation)?;
    let mut entries = Vec::new();
    let mut skipped = import.skipped;
    for input in import.entries {
        if providers.is_some_and(|ps| !ps.contains(&input.provider)) {
            continue;
        }
        let key = input.source.clone().unwrap_or_default();
        // Problems are named under the file's own key: `gpt-x.mode`.
        let name = key.rsplit_once(": ").map_or(key.as_str(), |(_, k)| k);
        match input.parse(name, Origin::Builtin) {
            Ok(e) => entries.push(with_custom_origin(e, project.as_ref())),
            // One odd entry never blocks the others: it is skipped with its problems.
            Err(es) => skipped.push(Skipped {
                key: name.to_string(),
                reason: es
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }
    // One entry per (provider, model): LiteLLM lists some models under several keys.
    crate::kernel::sort::sort_by(&mut entries, |a, b| {
        (&a.provider, &a.model).cmp(&(&b.provider, &b.model))
    });
    entries.dedup_by(|a, b| a.provider == b.provider && a.model == b.model);
    if !dry_run && !entries.is_empty() {
        prices.upsert_prices(&entries).await?;
    }
    Ok(ImportReport {
        imported: entries.len(),
        skipped,
        dry_run,
        effective_from,
        project_id: project,
        entries: entries.iter().map(PriceView::from).collect(),
    })
}

/// A price entry as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PriceView {
    pub id: String,
    pub origin: &'static str,
    /// Which catalog the entry is from: `curated` (data/prices.json), `litellm` (the bundled
    /// LiteLLM layer) or `custom`.
    pub catalog: &'static str,
    pub project_id: Option<ProjectId>,
    #[serde(flatten)]
    pub entry: EntryInput,
    pub counting: crate::pricing::Counting,
}

impl From<&PriceEntry> for PriceView {
    fn from(e: &PriceEntry) -> Self {
        let (id, origin, project_id) = match &e.origin {
            Origin::Builtin => (
                format!("builtin:{}:{}:{}", e.provider, e.model, e.effective_from),
                "builtin",
                None,
            ),
            Origin::Custom { id, project_id } => (id.clone(), "custom", project_id.clone()),
        };
        let catalog = match &e.origin {
            Origin::Custom { .. } => "custom",
            Origin::Builtin
                if crate::pricing::catalog::curated()
                    .history(&e.provider, &e.model)
                    .is_empty() =>
            {
                "litellm"
            }
            Origin::Builtin => "curated",
        };
        let mut entry = e.to_input();
        entry.counting = None;
        PriceView {
            id,
            origin,
            catalog,
            project_id,
            entry,
            counting: e.counting,
        }
    }
}

/// Filters of `GET /api/prices`.
#[derive(Debug)]
pub struct PriceFilter {
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Entries in force on this day (ignored with `history`, which lists every dated entry).
    pub on: NaiveDate,
    pub history: bool,
    pub project: Option<ProjectId>,
    /// Models whose name starts with this (`claude-`, `@cf/meta/`).
    pub model_prefix: Option<String>,
    /// Entries of this LiteLLM mode (`chat`, `embedding`, `audio_transcription`, ...).
    pub mode: Option<String>,
    /// A page: models after this `provider/model` cursor, at most `limit` of them.
    pub after: Option<(String, String)>,
    pub limit: Option<usize>,
}

/// The page size of `GET /api/prices` when the caller names none: the whole LiteLLM layer
/// (thousands of models, megabytes of JSON) is never listed in one answer by default.
pub const DEFAULT_PRICE_PAGE: usize = 100;

/// One page of the effective catalog, the cursor of the next page, if any, and how many
/// models match the filters on every page together.
pub struct PricePage {
    pub prices: Vec<PriceView>,
    pub next_cursor: Option<String>,
    pub total: usize,
}

/// The effective catalog: for each model, the entry in force on the day (or every entry with
/// `history`), custom entries first.
pub fn effective_catalog(custom: &[PriceEntry], filter: &PriceFilter) -> Vec<PriceView> {
    effective_page(custom, filter).prices
}

/// The effective catalog, one page at a time: models in `provider/model` order; only the
/// models of the page are resolved (the bundled layer parses an entry when first listed);
/// the others are counted for `total` from the bundled lines' date and mode columns.
pub fn effective_page(custom: &[PriceEntry], filter: &PriceFilter) -> PricePage {
    let builtin = builtin();
    let visible: Vec<PriceEntry> = custom
        .iter()
        .filter(|e| match &e.origin {
            Origin::Custom {
                project_id: Some(p),
                ..
            } => filter.project.as_ref() == Some(p),
            _ => true,
        })
        .cloned()
        .collect();
    let custom_catalog = Catalog::new(visible);
    let book = PriceBook {
        builtin,
        custom: &custom_catalog,
    };
    let canonical_model = match (&filter.provider, &filter.model) {
        (Some(p), Some(m)) => Some(book.canonical_model(p, m).unwrap_or_else(|| m.clone())),
        (None, Some(m)) => Some(m.clone()),
        _ => None,
    };
    let mut models: Vec<(&str, &str)> = custom_catalog
        .names()
        .into_iter()
        .chain(builtin.names())
        .filter(|(p, _)| filter.provider.as_ref().is_none_or(|f| f == p))
        .filter(|(p, m)| {
            canonical_model.as_ref().is_none_or(|c| {
                c == m || book.canonical_model(p, c).is_some_and(|found| found == *m)
            })
        })
        .filter(|(_, m)| {
            filter
                .model_prefix
                .as_ref()
                .is_none_or(|x| m.starts_with(x.as_str()))
        })
        .collect();
    crate::kernel::sort::sort(&mut models);
    models.dedup();
    let wanted_mode = |mode: Option<&str>| filter.mode.as_deref().is_none_or(|m| mode == Some(m));
    let wanted = |e: &PriceEntry| wanted_mode(e.mode.as_deref());
    let at = filter
        .on
        .and_hms_opt(12, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default();
    // The entries a model lists: those in force on the day, or its whole history.
    let views = |provider: &str, model: &str| -> Vec<PriceView> {
        if filter.history {
            [&custom_catalog, builtin]
                .into_iter()
                .flat_map(|layer| layer.history(provider, model))
                .filter(|e| wanted(e))
                .map(PriceView::from)
                .collect()
        } else {
            book.resolve(provider, model, at, filter.project.as_ref())
                .ok()
                .filter(|e| wanted(e))
                .map(PriceView::from)
                .into_iter()
                .collect()
        }
    };
    // Whether a model is listed, without parsing a bundled entry no other layer shadows.
    let listed = |provider: &str, model: &str| -> bool {
        let bundled_only = custom_catalog.history(provider, model).is_empty()
            && super::catalog::curated()
                .history(provider, model)
                .is_empty()
            && book.canonical_model(provider, model).as_deref() == Some(model);
        if bundled_only {
            let day = (!filter.history).then_some(filter.on);
            super::bundled::layer()
                .line_modes(provider, model, day)
                .into_iter()
                .any(|mode| wanted_mode((!mode.is_empty()).then_some(mode)))
        } else {
            !views(provider, model).is_empty()
        }
    };
    let limit = filter.limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut on_page = 0usize;
    let mut total = 0usize;
    let mut next_cursor = None;
    for (provider, model) in models {
        let after_cursor = filter
            .after
            .as_ref()
            .is_none_or(|(ap, am)| (provider, model) > (ap.as_str(), am.as_str()));
        if after_cursor && on_page < limit {
            let found = views(provider, model);
            if !found.is_empty() {
                out.extend(found);
                on_page += 1;
                total += 1;
            }
            continue;
        }
        if listed(provider, model) {
            total += 1;
            if after_cursor && next_cursor.is_none() {
                next_cursor = out
                    .last()
                    .map(|v: &PriceView| format!("{}/{}", v.entry.provider, v.entry.model));
            }
        }
    }
    PricePage {
        prices: out,
        next_cursor,
        total,
    }
}

/// The price of one event: the computed quote (or why there is none) and the cost the client
/// reported, if any. The cost that counts is the reported one when present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub computed: Result<Quote, Unpriced>,
    pub reported: Option<Money>,
}

impl Pricing {
    /// The cost stored and summed: reported if the client sent one, else computed.
    pub fn cost(&self) -> Option<Money> {
        self.reported
            .or_else(|| self.computed.as_ref().ok().map(|q| q.cost))
    }

    pub fn unpriced(&self) -> Option<&Unpriced> {
        if self.reported.is_some() {
            None
        } else {
            self.computed.as_ref().err()
        }
    }
}

/// The `provider|name` keys under which custom prices for these events may be stored: the
/// names the client sent (and their undated stems), and the built-in model they are an alias
/// of, so a custom `gpt-4` price also covers `gpt-4-0613`.
pub fn lookups_for<'e>(events: impl IntoIterator<Item = (&'e str, &'e str)>) -> Vec<String> {
    let none = Catalog::default();
    let builtin_book = PriceBook {
        builtin: builtin(),
        custom: &none,
    };
    // A batch repeats a few models many times: each distinct one is looked up once.
    let distinct = crate::kernel::sort::distinct(events);
    let mut keys: Vec<String> = distinct
        .into_iter()
        .flat_map(|(provider, model)| {
            let mut names = candidate_names(provider, model);
            names.extend(builtin_book.canonical_model(provider, model));
            names.into_iter().map(move |n| format!("{provider}|{n}"))
        })
        .collect();
    crate::kernel::sort::sort(&mut keys);
    keys.dedup();
    keys
}
