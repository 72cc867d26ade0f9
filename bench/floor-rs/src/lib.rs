//! The smallest workers-rs worker: GET /healthz answered with the project's JSON, everything
//! else 404. What any workers-rs worker pays on this runtime (wasm instantiation, the
//! `#[event(fetch)]` glue), beside the JavaScript floor in bench/floor. The path is read from
//! the runtime's `Request.url` as the project's router and `entry-floor` read it (no parse
//! with the `url` crate), so the three Rust rows differ in the module only.

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(request: Request, _env: Env, _ctx: Context) -> Result<Response> {
    answer(request).await
}

async fn answer(request: Request) -> Result<Response> {
    if path_of(&request.inner().url()) == "/healthz" {
        return Response::from_json(&serde_json::json!({
            "status": "ok",
            "service": "ai-spend-tracker"
        }));
    }
    Response::error("not found", 404)
}

/// Feature `warm` (`BENCH_RUST_FLOOR_WARM`): the isolate's start runs a GET /healthz through
/// the request's conversion, the answer and the futures executor, so that the first real
/// request finds that code compiled.
#[cfg(feature = "warm")]
#[event(start)]
fn start() {
    let Ok(raw) = worker::web_sys::Request::new_with_str("http://localhost/healthz") else {
        return;
    };
    worker::wasm_bindgen_futures::spawn_local(async move {
        // Not the response's conversion: `new Response(body)` is refused outside a handler.
        let _ = answer(Request::from(raw)).await;
    });
}

/// The path of an absolute URL, without query or fragment.
fn path_of(href: &str) -> &str {
    let after_scheme = href.split_once("://").map_or(href, |(_, rest)| rest);
    let Some(start) = after_scheme.find('/') else {
        return "/";
    };
    let path = &after_scheme[start..];
    path.find(['?', '#']).map_or(path, |end| &path[..end])
}
