//! HTTP plumbing: the one place where core errors become statuses, the JSON error shape,
//! body limits and content types, and CORS.

use crate::core::json;
use serde::Serialize;
use worker::{Headers, Request, Response};

use crate::core::kernel::error::{CoreError, FieldError};

/// The largest request body accepted (1 MB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The status and stable code of each error; the only mapping from errors to HTTP.
pub fn status_and_code(error: &CoreError) -> (u16, &'static str) {
    match error {
        CoreError::MalformedBody { .. } => (400, "malformed_request"),
        CoreError::Validation(_) => (400, "validation_failed"),
        CoreError::Unauthenticated(_) => (401, "unauthenticated"),
        CoreError::Forbidden(_) => (403, "forbidden"),
        CoreError::NotFound(_) => (404, "not_found"),
        CoreError::MethodNotAllowed { .. } => (405, "method_not_allowed"),
        CoreError::Conflict(_) => (409, "conflict"),
        CoreError::IdReused(_) => (409, "id_reused"),
        CoreError::PayloadTooLarge { .. } => (413, "payload_too_large"),
        CoreError::UnsupportedMediaType(_) => (415, "unsupported_media_type"),
        CoreError::Storage(_) => (503, "storage_unavailable"),
        CoreError::Misconfigured(_) => (500, "misconfigured"),
    }
}

/// The JSON body of an error: `{"error": {"code", "message", "details"}}`. Storage and
/// configuration errors get a generic message; their cause is logged, never sent.
pub fn error_body(error: &CoreError) -> serde_json::Value {
    let (_, code) = status_and_code(error);
    let (message, details) = match error {
        CoreError::MalformedBody { message, details } => (message.clone(), details.clone()),
        CoreError::Validation(details) => (
            match details.as_slice() {
                [one] => format!("invalid `{}`: {}", one.field, one.message),
                _ => format!("{} fields are invalid", details.len()),
            },
            details.clone(),
        ),
        CoreError::IdReused(details) => (
            format!(
                "{}; an id is the idempotency key, sent again only to retry the same event, \
                 so nothing of this request was stored",
                match details.as_slice() {
                    [one] => format!("`{}` {}", one.field, one.message),
                    _ => format!(
                        "{} event ids are already used for other events",
                        details.len()
                    ),
                }
            ),
            details.clone(),
        ),
        CoreError::Storage(_) => (
            "the request could not be stored right now; nothing was lost, retry it".to_string(),
            vec![],
        ),
        CoreError::Misconfigured(_) => (
            "the server is misconfigured; see its logs".to_string(),
            vec![],
        ),
        // A refusal names the field that caused it, when one did.
        CoreError::Forbidden(refusal) | CoreError::Conflict(refusal) => (
            refusal.message.clone(),
            refusal
                .field
                .iter()
                .map(|field| FieldError::new(field.as_str(), refusal.message.as_str()))
                .collect(),
        ),
        other => (other.to_string(), vec![]),
    };
    let message = crate::core::kernel::error::shorten(message);
    let mut body = json!({ "error": { "code": code, "message": message, "details": details } });
    if matches!(error, CoreError::Storage(_)) {
        body["error"]["retryable"] = json!(true);
    }
    body
}

fn base_headers(content_type: &str) -> worker::Result<Headers> {
    let headers = Headers::new();
    headers.set("content-type", content_type)?;
    headers.set("cache-control", "no-store")?;
    headers.set("x-content-type-options", "nosniff")?;
    Ok(headers)
}

pub fn json_response<T: Serialize>(status: u16, value: &T) -> worker::Result<Response> {
    // Only the writing is compiled per answer type (serde_json::to_vec's, with its capacity);
    // the rest once, in `written_response`.
    let mut body = Vec::with_capacity(128);
    let written = value.serialize(&mut serde_json::Serializer::new(&mut body));
    written_response(status, written, body)
}

#[inline(never)]
fn written_response(
    status: u16,
    written: Result<(), serde_json::Error>,
    body: Vec<u8>,
) -> worker::Result<Response> {
    written.map_err(|e| worker::Error::RustError(e.to_string()))?;
    json_bytes_response(status, body)
}

/// A JSON answer already written (`body` must be JSON).
pub fn json_bytes_response(status: u16, body: Vec<u8>) -> worker::Result<Response> {
    Ok(Response::from_bytes(body)?
        .with_status(status)
        .with_headers(base_headers("application/json; charset=utf-8")?))
}

/// A CSV download named `filename`.
pub fn csv_response(body: String, filename: &str) -> worker::Result<Response> {
    let headers = base_headers("text/csv; charset=utf-8")?;
    headers.set(
        "content-disposition",
        &format!("attachment; filename=\"{filename}\""),
    )?;
    Ok(Response::from_bytes(body.into_bytes())?
        .with_status(200)
        .with_headers(headers))
}

pub fn empty_response(status: u16) -> worker::Result<Response> {
    Ok(Response::empty()?
        .with_status(status)
        .with_headers(base_headers("text/plain; charset=utf-8")?))
}

pub fn error_response(error: &CoreError) -> worker::Result<Response> {
    let body = serde_json::to_vec(&error_body(error))
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    error_with_body(error, body, "application/json; charset=utf-8")
}

/// The answer to `error` with `body` (of `content_type`) in place of the JSON error: its
/// status and headers (`Retry-After`, `Allow`, `WWW-Authenticate`) as [`error_response`] sends
/// them. Logs the cause of a storage or configuration failure, which no body carries.
pub fn error_with_body(
    error: &CoreError,
    body: Vec<u8>,
    content_type: &str,
) -> worker::Result<Response> {
    let (status, _) = status_and_code(error);
    match error {
        CoreError::Storage(cause) => worker::console_error!("storage failure: {cause}"),
        CoreError::Misconfigured(cause) => worker::console_error!("misconfigured: {cause}"),
        _ => {}
    }
    let mut response = Response::from_bytes(body)?
        .with_status(status)
        .with_headers(base_headers(content_type)?);
    match error {
        CoreError::Storage(_) => response.headers_mut().set("retry-after", "1")?,
        // RFC 9110: a 405 lists the methods the path has.
        CoreError::MethodNotAllowed { allowed, .. } => {
            response.headers_mut().set("allow", &allowed.join(", "))?
        }
        CoreError::Unauthenticated(_) => response
            .headers_mut()
            .set("www-authenticate", "Bearer realm=\"ai-spend-tracker\"")?,
        _ => {}
    }
    Ok(response)
}

/// Reads a JSON request body: checks the content type and the 1 MB limit before parsing.
/// An empty body is returned as empty, for routes whose body is optional.
pub async fn read_json_body(request: &mut Request) -> Result<Vec<u8>, CoreError> {
    read_json_body_up_to(request, MAX_BODY_BYTES).await
}

/// The largest price file accepted by the LiteLLM import (its catalog is over 1 MB).
pub const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024;

/// [`read_json_body`] with another limit.
pub async fn read_json_body_up_to(
    request: &mut Request,
    limit: usize,
) -> Result<Vec<u8>, CoreError> {
    let body = read_body_up_to(request, limit).await?;
    if !body.is_empty() {
        let content_type = request
            .headers()
            .get("content-type")
            .ok()
            .flatten()
            .unwrap_or_default();
        if !is_json_content_type(&content_type) {
            return Err(CoreError::UnsupportedMediaType(format!(
                "send the body as `Content-Type: application/json`, not `{content_type}`"
            )));
        }
    }
    Ok(body)
}

/// Reads a request body of any type, refusing one over `limit` bytes (413).
pub async fn read_body_up_to(request: &mut Request, limit: usize) -> Result<Vec<u8>, CoreError> {
    let declared = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(CoreError::PayloadTooLarge { limit });
    }
    let body = request
        .bytes()
        .await
        .map_err(|e| CoreError::MalformedBody {
            message: format!("could not read the request body: {e}"),
            details: vec![],
        })?;
    if body.len() > limit {
        return Err(CoreError::PayloadTooLarge { limit });
    }
    Ok(body)
}

pub fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The path of a request, read from the URL the runtime already parsed and serialized
/// (`Request.url`): after the scheme's `://` and the authority, up to the query or fragment.
/// The runtime's serialization percent-encodes `/`, `?` and `#` wherever they are not those
/// delimiters, so this is the path `url::Url::path` would give, without parsing the URL
/// again in the wasm (its code and Unicode tables are then only run by routes that read a
/// query).
pub fn request_path(request: &Request) -> String {
    let href = request.inner().url();
    path_of(&href).to_string()
}

fn path_of(href: &str) -> &str {
    let after_scheme = href.split_once("://").map_or(href, |(_, rest)| rest);
    let Some(start) = after_scheme.find('/') else {
        return "/";
    };
    let path = &after_scheme[start..];
    path.find(['?', '#']).map_or(path, |end| &path[..end])
}

/// Query parameters of a request, in order: the query of the runtime's serialized URL, read
/// as `application/x-www-form-urlencoded` (what `url::Url::query_pairs` does, without parsing
/// the whole URL again and linking its IDNA and Unicode tables into the wasm).
pub fn query_pairs(request: &Request) -> Vec<(String, String)> {
    let href = request.inner().url();
    query_of(&href)
        .map(|query| {
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn query_of(href: &str) -> Option<&str> {
    let before_fragment = href.split_once('#').map_or(href, |(head, _)| head);
    before_fragment.split_once('?').map(|(_, query)| query)
}

/// CORS for browser apps (often Cloudflare Pages apps) on origins listed in `ALLOWED_ORIGINS`.
/// Nothing is allowed unless listed.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Reads a comma-separated list of origins such as `https://app.pages.dev`.
    pub fn from_list(list: &str) -> Self {
        Self {
            origins: list
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }

    /// Adds the CORS headers to a response when the request's origin is allowed.
    pub fn apply(&self, origin: Option<&str>, response: &mut Response) -> worker::Result<()> {
        let headers = response.headers_mut();
        headers.set("vary", "Origin")?;
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            headers.set("access-control-allow-origin", origin)?;
            headers.set(
                "access-control-expose-headers",
                "retry-after, x-next-cursor, x-pruned-before",
            )?;
        }
        Ok(())
    }

    /// The answer to a preflight `OPTIONS` request.
    pub fn preflight(&self, origin: Option<&str>) -> worker::Result<Response> {
        match origin.filter(|o| self.allows(o)) {
            Some(origin) => {
                let mut response = empty_response(204)?;
                let headers = response.headers_mut();
                headers.set("access-control-allow-origin", origin)?;
                headers.set(
                    "access-control-allow-methods",
                    "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                )?;
                headers.set(
                    "access-control-allow-headers",
                    "Authorization, Content-Type",
                )?;
                headers.set("access-control-max-age", "86400")?;
                headers.set("vary", "Origin")?;
                Ok(response)
            }
            None => error_response(&CoreError::Forbidden(
                "this origin is not in ALLOWED_ORIGINS".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_what_the_url_parser_reads_from_the_runtime_s_serialized_url() {
        for href in [
            "http://127.0.0.1:8787/healthz",
            "https://tracker.example.com/api/usage?project_id=a&x=%3F#top",
            "https://tracker.example.com",
            "https://tracker.example.com/",
            "https://tracker.example.com?only=query",
            "https://user:p%2Fss@tracker.example.com:8443/api/admin/projects/a%2Fb/keys",
            "https://tracker.example.com/api/usage/%3Fnot-a-query#frag?ment",
            "https://xn--bcher-kva.example/dashboard/",
        ] {
            let parsed = worker::Url::parse(href).unwrap();
            assert_eq!(path_of(parsed.as_str()), parsed.path(), "{href}");
        }
    }

    #[test]
    fn the_query_pairs_are_what_the_url_parser_reads_from_the_runtime_s_serialized_url() {
        for href in [
            "http://127.0.0.1:8787/api/usage?project_id=a&limit=10",
            "https://t.example.com/api/usage?project_id=a%26b&tz=America%2FNew_York&x=1+2#frag",
            "https://t.example.com/api/usage?a=&=b&c&a=2&d=%E2%82%AC",
            "https://t.example.com/api/usage",
            "https://t.example.com/api/usage?",
            "https://t.example.com/api/usage#only?fragment",
            "https://t.example.com/api/usage/%3Fnot-a-query?real=1",
        ] {
            let parsed = worker::Url::parse(href).unwrap();
            let expected: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let ours: Vec<(String, String)> = query_of(parsed.as_str())
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(ours, expected, "{href}");
        }
    }
    use crate::core::kernel::error::{FieldError, StoreError};

    #[test]
    fn storage_failures_are_retryable_503s_that_hide_their_cause() {
        let error = CoreError::Storage(StoreError::Unavailable("D1 said secret things".into()));
        assert_eq!(status_and_code(&error).0, 503);
        let body = error_body(&error);
        assert_eq!(body["error"]["retryable"], true);
        assert!(!body.to_string().contains("secret things"));
    }

    #[test]
    fn a_single_invalid_field_is_named_in_the_message() {
        let error = CoreError::Validation(vec![FieldError::new("name", "must not be empty")]);
        let body = error_body(&error);
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(
            body["error"]["message"],
            "invalid `name`: must not be empty"
        );
        assert_eq!(body["error"]["details"][0]["field"], "name");
    }

    #[test]
    fn json_content_types_accept_parameters_and_case() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type(""));
    }

    #[test]
    fn cors_allows_only_listed_origins() {
        let policy = CorsPolicy::from_list(" https://a.pages.dev/, https://b.example ");
        assert!(policy.allows("https://a.pages.dev"));
        assert!(policy.allows("https://b.example"));
        assert!(!policy.allows("https://evil.example"));
        assert!(!CorsPolicy::from_list("").allows("https://a.pages.dev"));
    }
}
