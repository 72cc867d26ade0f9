//! `GET /api/openapi.json`: the OpenAPI 3.1 document, kept as a data file beside this module
//! and checked against the route table by the tests below.

use std::sync::OnceLock;

use serde_json::Value;

/// `openapi.json`, deflated at build time (see `build.rs`): a tenth of its size in the wasm.
const DEFLATED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapi.json.deflate"));

/// The parsed document. It is inflated and parsed once per isolate; a document that does not
/// parse is caught by the tests, and at run time answers an empty object rather than panicking.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::from_str(&crate::core::kernel::deflated::inflate_text(DEFLATED))
            .unwrap_or(Value::Null)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::routes::{Access, ROUTES};

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
