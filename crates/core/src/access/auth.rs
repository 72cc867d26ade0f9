//! Who is calling. A request carries `Authorization: Bearer <key>` with either the admin key
//! (compared in constant time) or a project's ingest key (looked up by its hash).

use subtle::ConstantTimeEq;

use crate::access::keys::{hash_key, KEY_PREFIX};
use crate::access::projects::ProjectId;
use crate::access::store::KeyStore;
use crate::kernel::error::{CoreError, Refusal};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Project {
        project_id: ProjectId,
        key_id: String,
    },
}

impl Principal {
    /// Admin routes accept only the admin key.
    pub fn require_admin(&self) -> Result<(), CoreError> {
        match self {
            Principal::Admin => Ok(()),
            Principal::Project { .. } => Err(CoreError::Forbidden(
                "this route needs the admin key; a project key cannot use it".into(),
            )),
        }
    }

    /// The project a request may act on: a project key is bound to its own project; the admin
    /// may name any project.
    pub fn scope_to(&self, requested: Option<&ProjectId>) -> Result<Option<ProjectId>, CoreError> {
        match (self, requested) {
            (Principal::Admin, requested) => Ok(requested.cloned()),
            (Principal::Project { project_id, .. }, None) => Ok(Some(project_id.clone())),
            (Principal::Project { project_id, .. }, Some(requested)) if requested == project_id => {
                Ok(Some(project_id.clone()))
            }
            (Principal::Project { .. }, Some(_)) => Err(CoreError::Forbidden(Refusal::of(
                "project_id",
                "a project key can only reach its own project",
            ))),
        }
    }
}

/// Extracts the bearer token from an `Authorization` header value.
pub fn bearer_token(header: Option<&str>) -> Result<&str, CoreError> {
    let header = header.ok_or_else(|| {
        CoreError::Unauthenticated("missing `Authorization: Bearer <key>` header".into())
    })?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| CoreError::Unauthenticated("malformed Authorization header".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(CoreError::Unauthenticated(
            "the Authorization header must be `Bearer <key>`".into(),
        ));
    }
    Ok(token.trim())
}

/// Compares two secrets without leaking, through timing, how much of them matched.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    // Hashing first makes the comparison independent of the lengths as well.
    let a = sha2_digest(a);
    let b = sha2_digest(b);
    a.ct_eq(&b).into()
}

fn sha2_digest(text: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).into()
}

pub async fn authenticate(
    header: Option<&str>,
    admin_key: Option<&str>,
    keys: &impl KeyStore,
) -> Result<Principal, CoreError> {
    let token = bearer_token(header)?;
    if let Some(admin) = admin_key.filter(|k| !k.is_empty()) {
        if secrets_equal(token, admin) {
            return Ok(Principal::Admin);
        }
    }
    if token.starts_with(KEY_PREFIX) {
        if let Some(record) = keys.find_active_key(&hash_key(token)).await? {
            return Ok(Principal::Project {
                project_id: record.project_id,
                key_id: record.id,
            });
        }
    }
    Err(CoreError::Unauthenticated("unknown or revoked key".into()))
}
