//! The D1 adapter of the guard's `ReservationStore`: a grant is one batch (one
//! transaction) whose conditional insert sums the open holds of every blocking limit, so
//! that concurrent grants can never together pass a limit; settlements ride on the usage
//! insert's batch (`settle_statements`).

use chrono::{DateTime, Utc};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::core::access::projects::ProjectId;
use crate::core::guard::store::{
    Granted, GuardActivity, Hold, NewReservation, OpenReservation, ReservationStore,
    StoredReservation,
};
use crate::core::kernel::clock::{format_timestamp, parse_timestamp, random_token, SystemEntropy};
use crate::core::kernel::error::StoreError;

use super::d1::{execute, query_first_row, store_error, text, D1Store};
use super::d1_row::{js_rows, rows};

/// Holds as D1 binds them: amounts as integers SQLite keeps exactly (saturated at i64).
fn holds_json(holds: &[Hold]) -> Result<String, StoreError> {
    let rows: Vec<serde_json::Value> = holds
        .iter()
        .map(|h| {
            crate::core::json!({
                "limit": h.limit,
                "amount": i64::try_from(h.amount).unwrap_or(if h.amount < 0 { i64::MIN } else { i64::MAX }),
            })
        })
        .collect();
    serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(format!("holds: {e}")))
}

/// The statements that end the reservations named by stored events (`[[project, id], ...]`
/// as JSON): the reservation rows, their holds, and the settlement version.
pub(super) fn settle_statements(
    db: &D1Database,
    settles: &str,
) -> Result<Vec<D1PreparedStatement>, StoreError> {
    let now = text(&format_timestamp(super::d1::now()));
    Ok(vec![
        db.prepare(
            "UPDATE guard_reservations SET ended_at = ?2, ended_by = 'settled' \
             WHERE ended_at IS NULL AND (project_id, id) IN \
             (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))",
        )
        .bind(&[text(settles), now])
        .map_err(store_error)?,
        db.prepare(
            "DELETE FROM guard_holds WHERE (project_id, reservation_id) IN \
             (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))",
        )
        .bind(&[text(settles)])
        .map_err(store_error)?,
        db.prepare("UPDATE guard_version SET version = version + 1 WHERE id = 1")
            .bind(&[])
            .map_err(store_error)?,
    ])
}

/// What the open holds of one limit add up to, summed by parts (whole billions of the limit's
/// scale, and the rest) so that no total of 64-bit holds leaves SQLite's integers.
const HELD_SUMS: &str = "SUM(amount / 1000000000) AS billions, SUM(amount % 1000000000) AS rest";

crate::d1_row! {
struct HeldRow {
    limit_key: String,
    billions: i64,
    rest: i64,
}
}

impl HeldRow {
    fn hold(self) -> Hold {
        Hold {
            limit: self.limit_key,
            amount: i128::from(self.billions) * 1_000_000_000 + i128::from(self.rest),
        }
    }
}

/// Ceilings as the grant compares them: each in whole billions of its scale and the rest
/// (Euclidean, so the rest is 0 to 999,999,999), which SQLite keeps exact however large the
/// limit.
fn ceilings_json(ceilings: &[Hold]) -> Result<String, StoreError> {
    let rows: Vec<serde_json::Value> = ceilings
        .iter()
        .map(|h| {
            let billions = h.amount.div_euclid(1_000_000_000);
            crate::core::json!({
                "limit": h.limit,
                "billions": i64::try_from(billions).unwrap_or(if billions < 0 { i64::MIN } else { i64::MAX }),
                "rest": h.amount.rem_euclid(1_000_000_000) as i64,
            })
        })
        .collect();
    serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(format!("ceilings: {e}")))
}

crate::d1_row! {
struct VersionRow {
    version: i64,
}
}

crate::d1_row! {
struct AnswerRow {
    answer: Option<String>,
    attempt: Option<String>,
    version: i64,
}
}

impl ReservationStore for D1Store {
    async fn holds(
        &self,
        limits: &[String],
        now: DateTime<Utc>,
    ) -> Result<(i64, Vec<Hold>), StoreError> {
        let keys = serde_json::to_string(limits)
            .map_err(|e| StoreError::Corrupt(format!("limits: {e}")))?;
        let results = self
            .db()
            .batch(vec![
                self.db()
                    .prepare(format!(
                        "SELECT limit_key, {HELD_SUMS} FROM guard_holds \
                             WHERE limit_key IN (SELECT value FROM json_each(?1)) \
                             AND expires_at > ?2 GROUP BY limit_key"
                    ))
                    .bind(&[text(&keys), text(&format_timestamp(now))])
                    .map_err(store_error)?,
                self.db()
                    .prepare("SELECT version FROM guard_version WHERE id = 1")
                    .bind(&[])
                    .map_err(store_error)?,
            ])
            .await
            .map_err(store_error)?;
        let held: Vec<HeldRow> = match results.first() {
            Some(r) => rows(r)?,
            None => Vec::new(),
        };
        let version = match results.get(1) {
            Some(r) => rows::<VersionRow>(r)?.first().map_or(0, |v| v.version),
            None => 0,
        };
        Ok((version, held.into_iter().map(HeldRow::hold).collect()))
    }

    async fn reservation(
        &self,
        project: &ProjectId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredReservation>, StoreError> {
        crate::d1_row! {
        struct Row {
            answer: String,
            open: i64,
        }
        }
        let row: Option<Row> = query_first_row(
            self.db(),
            "SELECT answer, (ended_at IS NULL AND expires_at > ?3) AS open \
             FROM guard_reservations WHERE project_id = ?1 AND id = ?2",
            &[
                text(project.as_str()),
                text(id),
                text(&format_timestamp(now)),
            ],
        )
        .await?;
        Ok(row.map(|r| StoredReservation {
            answer: r.answer,
            open: r.open != 0,
        }))
    }

    async fn grant(
        &self,
        reservation: &NewReservation,
        now: DateTime<Utc>,
    ) -> Result<Granted, StoreError> {
        let attempt = random_token(&SystemEntropy, "att_", 12)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let project = text(reservation.project_id.as_str());
        let id = text(&reservation.id);
        let holds = text(&holds_json(&reservation.holds)?);
        let ceilings = text(&ceilings_json(&reservation.ceilings)?);
        let now = text(&format_timestamp(now));
        let expires = text(&format_timestamp(reservation.expires_at));
        let keys: Vec<&str> = reservation.holds.iter().map(|h| h.limit.as_str()).collect();
        let keys = serde_json::to_string(&keys)
            .map_err(|e| StoreError::Corrupt(format!("limits: {e}")))?;
        let limits = serde_json::to_string(&reservation.limits)
            .map_err(|e| StoreError::Corrupt(format!("limits: {e}")))?;
        let db = self.db();
        let statements = vec![
            // Expired holds of these limits go first: they count for nothing.
            db.prepare(
                "DELETE FROM guard_holds WHERE limit_key IN (SELECT value FROM json_each(?1)) \
                 AND expires_at <= ?2",
            )
            .bind(&[text(&keys), now.clone()])
            .map_err(store_error)?,
            // The reservation, only when the version is the one the spend was read at and
            // no ceiling would be passed with its holds added to the open ones. Sums go by
            // parts (`HELD_SUMS`), compared with each ceiling's parts: exact at any size.
            db.prepare(
                "INSERT INTO guard_reservations \
                 (project_id, id, holds, answer, attempt, created_at, expires_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 \
                 WHERE (SELECT version FROM guard_version WHERE id = 1) = ?8 \
                 AND NOT EXISTS (SELECT 1 FROM (SELECT \
                   json_extract(c.value, '$.billions') AS cb, json_extract(c.value, '$.rest') AS cr, \
                   (SELECT COALESCE(SUM(h.amount / 1000000000), 0) FROM guard_holds h \
                    WHERE h.limit_key = json_extract(c.value, '$.limit') AND h.expires_at > ?6) \
                   + (SELECT COALESCE(SUM(json_extract(n.value, '$.amount') / 1000000000), 0) \
                      FROM json_each(?3) n \
                      WHERE json_extract(n.value, '$.limit') = json_extract(c.value, '$.limit')) AS b, \
                   (SELECT COALESCE(SUM(h.amount % 1000000000), 0) FROM guard_holds h \
                    WHERE h.limit_key = json_extract(c.value, '$.limit') AND h.expires_at > ?6) \
                   + (SELECT COALESCE(SUM(json_extract(n.value, '$.amount') % 1000000000), 0) \
                      FROM json_each(?3) n \
                      WHERE json_extract(n.value, '$.limit') = json_extract(c.value, '$.limit')) AS r \
                   FROM json_each(?9) c) t \
                   WHERE t.b + t.r / 1000000000 > t.cb \
                   OR (t.b + t.r / 1000000000 = t.cb AND t.r % 1000000000 > t.cr)) \
                 ON CONFLICT (project_id, id) DO NOTHING",
            )
            .bind(&[
                project.clone(),
                id.clone(),
                holds.clone(),
                text(&reservation.answer),
                text(&attempt),
                now.clone(),
                expires.clone(),
                JsValue::from_f64(reservation.version as f64),
                ceilings,
            ])
            .map_err(store_error)?,
            // Its holds, when this attempt wrote the reservation.
            db.prepare(
                "INSERT INTO guard_holds (limit_key, project_id, reservation_id, amount, expires_at) \
                 SELECT json_extract(h.value, '$.limit'), ?1, ?2, json_extract(h.value, '$.amount'), ?4 \
                 FROM json_each(?3) h \
                 WHERE EXISTS (SELECT 1 FROM guard_reservations \
                               WHERE project_id = ?1 AND id = ?2 AND attempt = ?5) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&[project.clone(), id.clone(), holds, expires, text(&attempt)])
            .map_err(store_error)?,
            db.prepare(
                "SELECT r.answer AS answer, r.attempt AS attempt, \
                 (SELECT version FROM guard_version WHERE id = 1) AS version \
                 FROM (SELECT 1) LEFT JOIN guard_reservations r ON r.project_id = ?1 AND r.id = ?2",
            )
            .bind(&[project.clone(), id.clone()])
            .map_err(store_error)?,
            // What the other open reservations hold against the answer's limits, as of this
            // grant (the guard restates its answer when that moved since its read).
            db.prepare(
                format!(
                    "SELECT limit_key, {HELD_SUMS} FROM guard_holds \
                     WHERE limit_key IN (SELECT value FROM json_each(?1)) AND expires_at > ?2 \
                     AND NOT (project_id = ?3 AND reservation_id = ?4) GROUP BY limit_key"
                ),
            )
            .bind(&[text(&limits), now, project, id])
            .map_err(store_error)?,
        ];
        let results = db.batch(statements).await.map_err(store_error)?;
        let row = match results.get(3) {
            Some(r) => rows::<AnswerRow>(r)?.pop(),
            None => None,
        };
        let Some(row) = row else {
            return Err(StoreError::Unavailable(
                "the grant read nothing back".into(),
            ));
        };
        Ok(match (row.answer, row.attempt) {
            (Some(_), Some(a)) if a == attempt => Granted::Reserved {
                others: match results.get(4) {
                    Some(r) => rows::<HeldRow>(r)?.into_iter().map(HeldRow::hold).collect(),
                    None => Vec::new(),
                },
            },
            (Some(answer), _) => Granted::Existing(answer),
            (None, _) if row.version != reservation.version => Granted::Stale,
            (None, _) => Granted::NoRoom,
        })
    }

    async fn restate(&self, project: &ProjectId, id: &str, answer: &str) -> Result<(), StoreError> {
        execute(
            self.db(),
            "UPDATE guard_reservations SET answer = ?3 WHERE project_id = ?1 AND id = ?2",
            &[text(project.as_str()), text(id), text(answer)],
        )
        .await
    }

    async fn release(
        &self,
        project: &ProjectId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let db = self.db();
        let results = db
            .batch(vec![
                db.prepare(
                    "UPDATE guard_reservations SET ended_at = COALESCE(ended_at, ?3), \
                     ended_by = COALESCE(ended_by, 'released') \
                     WHERE project_id = ?1 AND id = ?2 RETURNING id",
                )
                .bind(&[
                    text(project.as_str()),
                    text(id),
                    text(&format_timestamp(now)),
                ])
                .map_err(store_error)?,
                db.prepare("DELETE FROM guard_holds WHERE project_id = ?1 AND reservation_id = ?2")
                    .bind(&[text(project.as_str()), text(id)])
                    .map_err(store_error)?,
            ])
            .await
            .map_err(store_error)?;
        let updated = match results.first() {
            Some(r) => !js_rows(r)?.is_empty(),
            None => false,
        };
        Ok(updated)
    }

    async fn note_denial(
        &self,
        project: &ProjectId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at_text = format_timestamp(at);
        execute(
            self.db(),
            "INSERT INTO guard_denials (project_id, day, denials, last_reason, last_at) \
             VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (project_id, day) DO UPDATE SET \
             denials = denials + 1, last_reason = excluded.last_reason, last_at = excluded.last_at",
            &[
                text(project.as_str()),
                text(&at_text[..10]),
                text(reason),
                text(&at_text),
            ],
        )
        .await?;
        Ok(())
    }

    async fn activity(
        &self,
        project: &ProjectId,
        now: DateTime<Utc>,
    ) -> Result<GuardActivity, StoreError> {
        crate::d1_row! {
        struct Open {
            id: String,
            holds: String,
            created_at: String,
            expires_at: String,
        }
        }
        crate::d1_row! {
        struct Denials {
            today: Option<i64>,
            month: Option<i64>,
            last_reason: Option<String>,
            last_at: Option<String>,
        }
        }
        let now_text = format_timestamp(now);
        let db = self.db();
        let results = db
            .batch(vec![
                db.prepare(
                    "SELECT id, holds, created_at, expires_at FROM guard_reservations \
                     WHERE project_id = ?1 AND ended_at IS NULL AND expires_at > ?2 \
                     ORDER BY created_at LIMIT 100",
                )
                .bind(&[text(project.as_str()), text(&now_text)])
                .map_err(store_error)?,
                db.prepare(
                    "SELECT SUM(CASE WHEN day = ?2 THEN denials ELSE 0 END) AS today, \
                     SUM(denials) AS month, \
                     (SELECT last_reason FROM guard_denials WHERE project_id = ?1 \
                      ORDER BY last_at DESC LIMIT 1) AS last_reason, \
                     (SELECT MAX(last_at) FROM guard_denials WHERE project_id = ?1) AS last_at \
                     FROM guard_denials WHERE project_id = ?1 AND day >= ?3",
                )
                .bind(&[
                    text(project.as_str()),
                    text(&now_text[..10]),
                    text(&format!("{}-01", &now_text[..7])),
                ])
                .map_err(store_error)?,
            ])
            .await
            .map_err(store_error)?;
        let open: Vec<Open> = match results.first() {
            Some(r) => rows(r)?,
            None => Vec::new(),
        };
        let denials: Option<Denials> = match results.get(1) {
            Some(r) => rows::<Denials>(r)?.pop(),
            None => None,
        };
        let time = |t: &str| {
            parse_timestamp(t).map_err(|e| StoreError::Corrupt(format!("guard time: {e}")))
        };
        let mut reservations = Vec::with_capacity(open.len());
        for row in open {
            struct Stored {
                limit: String,
                amount: i64,
            }

            spend_core::object_reader!(
                Stored,
                skip {
                    limit: required,
                    amount: required,
                }
            );
            let holds: Vec<Stored> = serde_json::from_str(&row.holds)
                .map_err(|e| StoreError::Corrupt(format!("guard holds: {e}")))?;
            reservations.push(OpenReservation {
                id: row.id,
                created_at: time(&row.created_at)?,
                expires_at: time(&row.expires_at)?,
                holds: holds
                    .into_iter()
                    .map(|h| Hold {
                        limit: h.limit,
                        amount: i128::from(h.amount),
                    })
                    .collect(),
            });
        }
        let denials = denials.unwrap_or(Denials {
            today: None,
            month: None,
            last_reason: None,
            last_at: None,
        });
        Ok(GuardActivity {
            reservations,
            denials_today: denials.today.unwrap_or(0),
            denials_month: denials.month.unwrap_or(0),
            last_reason: denials.last_reason,
            last_at: denials.last_at.as_deref().map(time).transpose()?,
        })
    }
}
