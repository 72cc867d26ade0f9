//! Ingest keys. A key's secret is shown once, when it is created; only its SHA-256 hash and
//! a short prefix (to tell keys apart in lists) are ever stored.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::access::projects::{get_project, ProjectId};
use crate::access::store::{KeyStore, ProjectStore};
use crate::kernel::clock::{random_token, Clock, Entropy};
use crate::kernel::error::{CoreError, FieldError, Problems};
use crate::kernel::input::visible_text;

/// Every project key starts with this, so leaked keys are easy to search for.
pub const KEY_PREFIX: &str = "ast_";
/// How many characters of a key are kept in clear to identify it.
pub const SHOWN_PREFIX_LEN: usize = 12;
const SECRET_BYTES: usize = 24;

/// A stored key: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub project_id: ProjectId,
    pub name: Option<String>,
    pub prefix: String,
    #[serde(skip)]
    pub key_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A freshly created key: the record plus the secret, which is never available again.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    pub key: String,
}

/// Body of `POST /api/admin/projects/{id}/keys` (optional).
#[derive(Debug, Default)]
pub struct NewKeyRequest {
    pub name: Option<String>,
}

crate::object_reader!(NewKeyRequest, deny { name: default });

/// Lower-case hex SHA-256 of a key's full text.
pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub async fn create_key(
    projects: &impl ProjectStore,
    keys: &impl KeyStore,
    clock: &impl Clock,
    entropy: &impl Entropy,
    project_id: &str,
    request: NewKeyRequest,
) -> Result<CreatedKey, CoreError> {
    let project = get_project(projects, project_id).await?;
    let mut problems = Problems::new();
    let name = match request.name.as_deref().map(str::trim) {
        Some("") => {
            problems.push("name", "must not be empty when given");
            None
        }
        Some(n) if n.chars().count() > 100 => {
            problems.take::<()>(Err(FieldError::new(
                "name",
                "must be at most 100 characters",
            )));
            None
        }
        Some(n) => problems
            .take(visible_text("name", n))
            .map(|()| n.to_string()),
        None => None,
    };
    problems.finish()?;
    let secret = random_token(entropy, KEY_PREFIX, SECRET_BYTES)?;
    let record = ApiKeyRecord {
        id: random_token(entropy, "key_", 8)?,
        project_id: project.id,
        name,
        prefix: secret.chars().take(SHOWN_PREFIX_LEN).collect(),
        key_hash: hash_key(&secret),
        created_at: clock.now(),
        revoked_at: None,
    };
    keys.insert_key(&record).await?;
    Ok(CreatedKey {
        record,
        key: secret,
    })
}

pub async fn list_keys(
    projects: &impl ProjectStore,
    keys: &impl KeyStore,
    project_id: &str,
) -> Result<Vec<ApiKeyRecord>, CoreError> {
    let project = get_project(projects, project_id).await?;
    Ok(keys.list_keys(&project.id).await?)
}

pub async fn revoke_key(
    projects: &impl ProjectStore,
    keys: &impl KeyStore,
    clock: &impl Clock,
    project_id: &str,
    key_id: &str,
) -> Result<(), CoreError> {
    let project = get_project(projects, project_id).await?;
    if keys.revoke_key(&project.id, key_id, clock.now()).await? {
        Ok(())
    } else {
        Err(CoreError::NotFound(format!(
            "active key `{key_id}` of project `{project_id}`"
        )))
    }
}
