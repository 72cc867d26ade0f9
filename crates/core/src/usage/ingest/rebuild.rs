//! Rebuild: replaying the raw log into the store, one object as one unit, refusing what ingestion refused.

use super::*;
use crate::kernel::date_text::parse_date;
use std::collections::hash_map::Entry;

/// `POST /api/admin/rebuild`: which raw objects to replay. Days are the days the objects were
/// written (the day a request was received), both inclusive.
#[derive(Debug, Clone, Default)]
pub struct RebuildRequest {
    pub from: Option<String>,
    pub to: Option<String>,
    /// The `next_cursor` of the previous call, to continue.
    pub cursor: Option<String>,
    /// Objects per call (default 20, at most 100), to stay within one invocation's limits.
    pub max_objects: Option<usize>,
}

crate::object_reader!(
    RebuildRequest,
    deny {
        from: default,
        to: default,
        cursor: default,
        max_objects: default,
    }
);

pub const DEFAULT_REBUILD_OBJECTS: usize = 20;
pub const MAX_REBUILD_OBJECTS: usize = 100;
/// A call stops reading objects once it has read this much (the next call goes on from
/// there): its rows are written in at most a dozen 1 MB statements, well within the free
/// plan's 50 D1 queries per invocation, whatever `max_objects` says.
pub const REBUILD_BYTES: usize = 6_000_000;

#[derive(Debug, Clone, Serialize)]
pub struct UnreadableLine {
    pub object: String,
    #[serde(flatten)]
    pub line: BadLine,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RebuildReport {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub objects_read: usize,
    pub events_read: usize,
    /// Events that were missing from the store and are now back.
    pub inserted: usize,
    /// Events the store already had.
    pub already_stored: usize,
    /// Events of days whose raw rows were pruned (before `pruned_before`): the rollups still
    /// count them, so they are not inserted again.
    pub pruned: usize,
    pub pruned_before: Option<NaiveDate>,
    /// Prices written again from re-price objects.
    pub repriced: usize,
    /// Raw objects of refused requests (holding an id stored for a different event), left out
    /// whole: nothing of a refused request comes back.
    pub refused_objects: usize,
    /// Raw objects withdrawn by their request (it stored nothing) whose delete had failed.
    pub void_objects: usize,
    /// Raw objects of the worker's own writing that were never acknowledged: their request
    /// crashed between its R2 put and its D1 commit, or was refused, or is still in flight.
    /// Nothing of them was answered 2xx, so nothing of them comes back.
    pub unacknowledged_objects: usize,
    pub unreadable_lines: usize,
    /// The first unreadable lines, to investigate.
    pub problems: Vec<UnreadableLine>,
    /// Pass this back as `cursor` to continue; `None` when the range is done.
    pub next_cursor: Option<String>,
    pub done: bool,
}

/// The phase of a raw-log key (raw events, then re-pricing) and the day of its object.
pub(super) fn phase_and_day(key: &str) -> Option<(Phase, Option<NaiveDate>)> {
    let (phase, rest) = if let Some(rest) = key.strip_prefix(RAW_PREFIX) {
        (Phase::Raw, rest)
    } else if let Some(rest) = key.strip_prefix(REPRICE_PREFIX) {
        (Phase::Reprice, rest)
    } else {
        return None;
    };
    let day = rest.get(..10).and_then(parse_date);
    Some((phase, day))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Raw,
    Reprice,
}

impl Phase {
    fn prefix(self) -> &'static str {
        match self {
            Phase::Raw => RAW_PREFIX,
            Phase::Reprice => REPRICE_PREFIX,
        }
    }
}

/// Replays the log into the usage store: first the raw objects (events missing from the
/// store are inserted, stored ones left as they are), then the re-price objects (their prices
/// are written again). Idempotent: calling it again, or over a store that was never lost,
/// changes nothing.
pub async fn rebuild(
    usage: &(impl UsageStore + RepriceStore + RetentionStore),
    log: &impl RawLog,
    request: &RebuildRequest,
) -> Result<RebuildReport, CoreError> {
    let mut problems = crate::kernel::error::Problems::new();
    let day = |name: &str, value: &Option<String>, p: &mut crate::kernel::error::Problems| {
        value.as_deref().and_then(|v| {
            crate::kernel::query::parse_day(v)
                .map_err(|m| p.push(name, m))
                .ok()
        })
    };
    let from = day("from", &request.from, &mut problems);
    let to = day("to", &request.to, &mut problems);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            problems.push("to", "must not be before `from`");
        }
    }
    let max = request.max_objects.unwrap_or(DEFAULT_REBUILD_OBJECTS);
    if !(1..=MAX_REBUILD_OBJECTS).contains(&max) {
        problems.push(
            "max_objects",
            format!("must be from 1 to {MAX_REBUILD_OBJECTS}"),
        );
    }
    let cursor_phase = match &request.cursor {
        Some(cursor) => match phase_and_day(cursor) {
            Some((phase, _)) => Some(phase),
            None => {
                problems.push("cursor", "is not a cursor this API returned");
                None
            }
        },
        None => None,
    };
    problems.finish()?;
    let phase = cursor_phase.unwrap_or(Phase::Raw);
    let start = match (&request.cursor, from) {
        (Some(cursor), _) => Some(cursor.clone()),
        // Sorts before every key of that day.
        (None, Some(from)) => Some(format!("{}{from}", phase.prefix())),
        (None, None) => None,
    };
    let listing = log.list(phase.prefix(), start.as_deref(), max + 1).await?;
    let mut keys: Vec<String> = Vec::new();
    let mut past_end = false;
    for key in listing.keys {
        let Some((_, Some(day))) = phase_and_day(&key) else {
            continue;
        };
        if to.is_some_and(|to| day > to) {
            past_end = true;
            break;
        }
        keys.push(key);
    }
    let more_in_phase = !past_end && (keys.len() > max || listing.truncated);
    keys.truncate(max);
    let next_cursor = if more_in_phase {
        keys.last().cloned()
    } else if phase == Phase::Raw {
        // The raw objects are done; the re-price objects come next.
        Some(match from {
            Some(from) => format!("{REPRICE_PREFIX}{from}"),
            None => REPRICE_PREFIX.to_string(),
        })
    } else {
        None
    };
    let mut report = RebuildReport {
        from,
        to,
        objects_read: 0,
        events_read: 0,
        inserted: 0,
        already_stored: 0,
        pruned: 0,
        pruned_before: None,
        repriced: 0,
        refused_objects: 0,
        void_objects: 0,
        unacknowledged_objects: 0,
        unreadable_lines: 0,
        problems: Vec::new(),
        done: next_cursor.is_none(),
        next_cursor,
    };
    let void = void_markers(log, phase, &keys).await?;
    let mut objects: Vec<(String, Vec<StoredEvent>)> = Vec::new();
    let mut read_bytes = 0;
    for (i, key) in keys.iter().enumerate() {
        if read_bytes >= REBUILD_BYTES {
            // Enough for one invocation's writes: the rest on the next call, from here.
            report.next_cursor = i.checked_sub(1).and_then(|prev| keys.get(prev)).cloned();
            report.done = false;
            break;
        }
        if void.binary_search_by(|v| v.as_str().cmp(key)).is_ok() {
            report.void_objects += 1;
            continue;
        }
        let Some(bytes) = log.get(key).await? else {
            continue;
        };
        read_bytes += bytes.len();
        report.objects_read += 1;
        let (lines, bad) = from_ndjson(&bytes);
        report.unreadable_lines += bad.len();
        for line in bad {
            if report.problems.len() < 20 {
                report.problems.push(UnreadableLine {
                    object: key.clone(),
                    line,
                });
            }
        }
        objects.push((key.clone(), lines));
    }
    report.events_read = objects.iter().map(|(_, lines)| lines.len()).sum();
    if phase == Phase::Raw {
        let (unacknowledged, duplicates) = keep_acknowledged(usage, &mut objects).await?;
        report.unacknowledged_objects = unacknowledged;
        report.already_stored += duplicates;
    }
    let mut objects: Vec<Vec<StoredEvent>> = objects.into_iter().map(|(_, l)| l).collect();
    if report.events_read > 0 {
        // A wiped store has no watermark, so a full rebuild restores every day.
        report.pruned_before = usage.retention_state().await?.pruned_before;
        if let Some(watermark) = report.pruned_before {
            for lines in &mut objects {
                let before = lines.len();
                lines.retain(|r| !before_watermark(r.day(), watermark));
                report.pruned += before - lines.len();
            }
        }
    }
    match phase {
        Phase::Raw => {
            let (records, refused) = insert_acknowledged(usage, objects).await?;
            report.refused_objects = refused;
            report.inserted = records.0;
            report.already_stored += records.1;
        }
        Phase::Reprice => {
            let records: Vec<StoredEvent> = objects.into_iter().flatten().collect();
            if !records.is_empty() {
                report.repriced = usage.update_pricing(&records).await?;
            }
        }
    }
    Ok(report)
}

/// Leaves out the objects of the worker's own writing, stamped since acknowledgements exist,
/// that have none (nothing of them was answered 2xx), and from the acknowledged ones the
/// events that were already stored before them (another object holds their stored facts) and
/// repeats of an event within the object. Objects of other names (imports, replacements, see
/// `replacement_key`), older ones, and every object of a store without acknowledgements, stay
/// as they are. Answers how many objects went and how many lines were already stored.
pub(super) async fn keep_acknowledged(
    usage: &impl UsageStore,
    objects: &mut Vec<(String, Vec<StoredEvent>)>,
) -> Result<(usize, usize), CoreError> {
    let own: Vec<String> = objects
        .iter()
        .filter(|(key, _)| own_key_stamp(key).is_some())
        .map(|(key, _)| key.clone())
        .collect();
    if own.is_empty() {
        return Ok((0, 0));
    }
    let acks = usage.acknowledged(&own).await?;
    let Some(since) = acks.since else {
        return Ok((0, 0));
    };
    let (mut unacknowledged, mut duplicates) = (0, 0);
    objects.retain_mut(|(key, lines)| {
        let Some(stamp) = own_key_stamp(key) else {
            return true;
        };
        if stamp < since.as_str() {
            return true;
        }
        let Some(already) = acks.objects.get(key.as_str()) else {
            unacknowledged += 1;
            return false;
        };
        let before = lines.len();
        let mut seen: HashSet<EventKey> = HashSet::new();
        lines.retain(|line| {
            let key = line.key();
            !already.contains(&key) && seen.insert(key)
        });
        duplicates += before - lines.len();
        true
    });
    Ok((unacknowledged, duplicates))
}

/// The raw objects among `keys` that were withdrawn but could not be deleted (see
/// [`withdraw`]): one listing of markers per day the keys cover. Sorted, to be searched.
pub(super) async fn void_markers(
    log: &impl RawLog,
    phase: Phase,
    keys: &[String],
) -> Result<Vec<String>, CoreError> {
    let mut void = Vec::new();
    if phase != Phase::Raw {
        return Ok(void);
    }
    let days = crate::kernel::sort::distinct(
        keys.iter()
            .filter_map(|k| k.strip_prefix(RAW_PREFIX).and_then(|rest| rest.get(..11))),
    );
    for day in days {
        let prefix = format!("{VOID_PREFIX}{RAW_PREFIX}{day}");
        let mut after: Option<String> = None;
        loop {
            let listing = log.list(&prefix, after.as_deref(), 1000).await?;
            for marker in &listing.keys {
                if let Some(key) = marker.strip_prefix(VOID_PREFIX) {
                    void.push(key.to_string());
                }
            }
            if !listing.truncated || listing.keys.is_empty() {
                break;
            }
            after = listing.keys.last().cloned();
        }
    }
    Ok(crate::kernel::sort::distinct(void))
}

/// How many times rebuild retries an insert that met an id stored meanwhile for a different
/// event (each retry leaves out the objects holding it).
pub(super) const REBUILD_INSERT_ATTEMPTS: usize = 4;

/// Inserts the events of raw objects as ingestion acknowledged them: an object is replayed
/// whole or not at all, and an object holding an id that an earlier object (of this call, or
/// stored) holds for a different event is the object of a refused request, left out whole,
/// as ingestion refused it. Answers (inserted, already stored) and the objects left out.
pub(super) async fn insert_acknowledged(
    usage: &impl UsageStore,
    objects: Vec<Vec<StoredEvent>>,
) -> Result<((usize, usize), usize), CoreError> {
    // Within the call: the first object holding an id decides its event. The ids map to
    // their first events' places in `firsts` (the map type the ingest uses for a batch's ids:
    // one compiled map), borrowing the objects rather than copying their events.
    let mut first: FxHashMap<(&str, &str), usize> = FxHashMap::default();
    let mut firsts: Vec<&StoredEvent> = Vec::new();
    let mut keep = vec![false; objects.len()];
    let mut refused = 0;
    for (lines, keep) in objects.iter().zip(&mut keep) {
        let reuses = lines.iter().any(|line| {
            first
                .get(&(line.project_id.as_str(), line.id.as_str()))
                .is_some_and(|&i| line.reuses_id_of(firsts[i]))
        });
        if reuses {
            refused += 1;
            continue;
        }
        for line in lines {
            if let Entry::Vacant(slot) = first.entry((line.project_id.as_str(), line.id.as_str())) {
                slot.insert(firsts.len());
                firsts.push(line);
            }
        }
        *keep = true;
    }
    let mut kept: Vec<Vec<StoredEvent>> = objects
        .into_iter()
        .zip(keep)
        .filter_map(|(lines, keep)| keep.then_some(lines))
        .collect();
    // Against the store: an insert that meets a stored id of a different event inserts
    // nothing; the objects holding those ids are left out and the rest tried again.
    for _ in 0..REBUILD_INSERT_ATTEMPTS {
        let records: Vec<StoredEvent> = kept.iter().flatten().cloned().collect();
        if records.is_empty() {
            return Ok(((0, 0), refused));
        }
        match usage
            .insert_events(&records, InsertMode::Replay, None)
            .await
        {
            Ok(inserted) => {
                let stored = inserted.iter().filter(|i| i.is_stored()).count();
                return Ok(((stored, records.len() - stored), refused));
            }
            Err(StoreError::IdReused(keys)) if !keys.is_empty() => {
                let keys: HashSet<EventKey> = keys.into_iter().collect();
                let before = kept.len();
                kept.retain(|lines| !lines.iter().any(|l| keys.contains(&l.key())));
                refused += before - kept.len();
            }
            Err(e) => return Err(CoreError::Storage(e)),
        }
    }
    Err(CoreError::Storage(StoreError::Unavailable(
        "ids kept being reused while rebuilding; call again".into(),
    )))
}
