//! The raw usage log over an R2 bucket.

use js_sys::{Object, Reflect, Uint8Array};
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::Bucket;

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

impl R2Log {
    /// One object put through the binding itself. `Bucket::put` takes any `worker::Data`,
    /// streams included, whose conversion keeps the stream machinery and `worker::Error`'s
    /// `Debug` in the wasm (BENCHMARKS.md, "A smaller worker"); the log only puts bytes. The
    /// same call: the bytes copied into a `Uint8Array`, the content type as HTTP metadata.
    async fn put_as(&self, key: &str, body: &[u8], content_type: &str) -> Result<(), StoreError> {
        let raw: &worker::worker_sys::R2Bucket = self.bucket.as_ref().unchecked_ref();
        let metadata = Object::new();
        let options = Object::new();
        let put = Reflect::set(&metadata, &"contentType".into(), &content_type.into())
            .and_then(|_| Reflect::set(&options, &"httpMetadata".into(), &metadata))
            .and_then(|_| {
                raw.put(
                    key.to_string(),
                    Uint8Array::from(body).into(),
                    options.into(),
                )
            });
        let done = match put {
            Ok(promise) => JsFuture::from(promise).await.map(|_| ()),
            Err(e) => Err(e),
        };
        done.map_err(|e| unavailable("put", worker::Error::from(e)))
    }
}

impl RawLog for R2Log {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.put_as(key, &body, "application/x-ndjson").await
    }

    async fn put_overwrite(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.put_as(key, &body, "application/json").await
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
