//! The raw usage log over an R2 bucket.

use worker::{Bucket, HttpMetadata};

use crate::core::kernel::error::StoreError;
use crate::core::usage::store::{RawListing, RawLog};

pub struct R2Log {
    bucket: Bucket,
}

impl R2Log {
    pub fn new(bucket: Bucket) -> Self {
        Self { bucket }
    }
}

fn unavailable(what: &str, error: worker::Error) -> StoreError {
    StoreError::Unavailable(format!("R2 {what}: {error}"))
}

impl RawLog for R2Log {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.bucket
            .put(key, body)
            .http_metadata(HttpMetadata {
                content_type: Some("application/x-ndjson".into()),
                ..HttpMetadata::default()
            })
            .execute()
            .await
            .map_err(|e| unavailable("put", e))?;
        Ok(())
    }

    async fn put_overwrite(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.bucket
            .put(key, body)
            .http_metadata(HttpMetadata {
                content_type: Some("application/json".into()),
                ..HttpMetadata::default()
            })
            .execute()
            .await
            .map_err(|e| unavailable("put", e))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.bucket
            .delete(key)
            .await
            .map_err(|e| unavailable("delete", e))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(object) = self
            .bucket
            .get(key)
            .execute()
            .await
            .map_err(|e| unavailable("get", e))?
        else {
            return Ok(None);
        };
        match object.body() {
            Some(body) => Ok(Some(
                body.bytes().await.map_err(|e| unavailable("read", e))?,
            )),
            None => Ok(Some(Vec::new())),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<RawListing, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        // One R2 list answers at most 1,000 keys; follow its cursor up to `limit`.
        loop {
            let want = (limit - keys.len()).min(1000) as u32;
            let mut request = self.bucket.list().prefix(prefix).limit(want);
            if let Some(c) = &cursor {
                request = request.cursor(c.clone());
            } else if let Some(s) = start_after {
                request = request.start_after(s);
            }
            let page = request
                .execute()
                .await
                .map_err(|e| unavailable("list", e))?;
            keys.extend(page.objects().iter().map(|o| o.key()));
            let truncated = page.truncated();
            if !truncated || keys.len() >= limit {
                return Ok(RawListing { keys, truncated });
            }
            cursor = page.cursor();
            if cursor.is_none() {
                return Ok(RawListing { keys, truncated });
            }
        }
    }
}
