//! `GET /api/openapi.json`: the OpenAPI 3.1 document, `public/openapi.json`, checked against
//! the route table by the tests below. It is one of the static assets, not part of the wasm
//! (22 KB of it, deflated, when it was: point 5 of issue 28 holds the wasm to 1.5 MB), and the
//! route answers with the file the assets serve at `/openapi.json`.

use worker::{Env, Response};

use crate::core::kernel::error::CoreError;

use super::bindings::ASSETS;
use super::http::json_bytes_response;
use super::router::internal;

/// The document, as the static assets hold it.
pub async fn serve(env: &Env) -> Result<Response, CoreError> {
    let missing = || CoreError::NotFound("the OpenAPI document (public/openapi.json)".into());
    let assets = env.assets(ASSETS).map_err(|_| missing())?;
    let mut file = assets
        .fetch("https://assets.local/openapi.json", None)
        .await
        .map_err(internal)?;
    // Only the JSON file itself: an assets setting that answers a missing file with a page
    // (`not_found_handling`) must not make the route answer HTML as the document.
    let json = file
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|t| t.starts_with("application/json"));
    if file.status_code() != 200 || !json {
        return Err(missing());
    }
    let body = file.bytes().await.map_err(internal)?;
    json_bytes_response(200, body).map_err(internal)
}

#[cfg(test)]
mod tests {
    use crate::edge::routes::{Access, ROUTES};
    use serde_json::Value;
    use std::sync::OnceLock;

    /// The document, parsed once.
    fn document() -> &'static Value {
        static DOCUMENT: OnceLock<Value> = OnceLock::new();
        DOCUMENT.get_or_init(|| {
            serde_json::from_str(include_str!("../../public/openapi.json"))
                .expect("public/openapi.json is JSON")
        })
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        assert_eq!(document()["openapi"], "3.1.0");
    }

    #[test]
    fn every_route_in_the_table_is_documented_with_its_security() {
        for route in ROUTES {
            let operation = &document()["paths"][route.pattern][route.method.to_lowercase()];
            assert!(
                operation.is_object(),
                "{} {} is missing from openapi.json",
                route.method,
                route.pattern
            );
            let public = operation["security"] == serde_json::json!([]);
            assert_eq!(
                public,
                route.access == Access::Public,
                "{} {}: security does not match the route's access",
                route.method,
                route.pattern
            );
            assert!(
                operation["responses"].is_object(),
                "{} {} documents no responses",
                route.method,
                route.pattern
            );
        }
    }

    #[test]
    fn every_documented_operation_exists_in_the_route_table() {
        let paths = document()["paths"].as_object().unwrap();
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys() {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    ROUTES
                        .iter()
                        .any(|r| r.pattern == path && r.method.eq_ignore_ascii_case(method)),
                    "openapi.json documents {method} {path}, which no route serves"
                );
            }
        }
    }

    #[test]
    fn every_reference_points_at_a_defined_component() {
        fn walk(value: &Value, refs: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        refs.push(r.clone());
                    }
                    map.values().for_each(|v| walk(v, refs));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        let mut refs = Vec::new();
        walk(document(), &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let pointer = r.trim_start_matches('#');
            assert!(document().pointer(pointer).is_some(), "dangling $ref {r}");
        }
    }
}
