//! The edge: everything that touches the Workers runtime. Entry points, routing, bindings,
//! and the D1/R2 adapters that implement the core's storage traits. Handlers extract input,
//! call the core and map the result; no rule of the product lives here.

pub mod bindings;
pub mod budgets;
pub mod cache;
pub mod cron;
pub mod d1;
pub mod d1_budgets;
pub mod d1_guard;
pub mod d1_plans;
pub mod d1_reports;
pub mod d1_retention;
pub mod d1_row;
pub mod d1_usage;
pub mod http;
pub mod notify;
pub mod openapi;
pub mod otlp;
pub mod plans;
pub mod prices;
pub mod queue;
pub mod r2;
pub mod router;
pub mod routes;
pub mod usage;
pub mod watch;

use worker::{
    event, Context, Env, MessageBatch, Request, Response, ScheduleContext, ScheduledEvent,
};

#[event(start)]
fn start() {
    // The curated price catalog and the code of reading and pricing an event, built and compiled
    // while the isolate starts rather than in its first request (BENCHMARKS.md, first request).
    use crate::core::kernel::clock::Clock;
    crate::core::usage::warm::warm_up(router::WorkerClock.now());
}

async fn fetch(request: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    // bench/first-request.mjs's runtime floor: this module, none of the product's code.
    #[cfg(feature = "entry-floor")]
    if http::request_path(&request) == "/healthz" {
        return Response::ok("ok");
    }
    router::handle(request, env, &ctx).await
}

/// The `fetch` export, as `#[event(fetch)]` writes it, less one thing: that macro boxes a
/// `worker::Error` as a `dyn std::error::Error` to log it, and the box's vtable keeps the
/// error's derived `Debug` in the wasm, with every `Debug` it reaches (BENCHMARKS.md, "A
/// smaller worker"). Here an error is logged by its `Display`, and answered with the same 500.
mod fetch_export {
    use worker::wasm_bindgen::prelude::wasm_bindgen;
    use worker::wasm_bindgen::JsValue;
    use worker::worker_sys::web_sys;

    #[wasm_bindgen(
        wasm_bindgen = ::worker::wasm_bindgen,
        wasm_bindgen_futures = ::worker::wasm_bindgen_futures,
        js_sys = ::worker::js_sys
    )]
    pub async fn fetch(
        request: web_sys::Request,
        env: worker::Env,
        ctx: worker::worker_sys::Context,
    ) -> Result<JsValue, JsValue> {
        let ctx = worker::Context::new(ctx);
        let response = match super::fetch(request.into(), env, ctx).await {
            Ok(response) => response,
            Err(e) => {
                worker::console_error!("{e}");
                worker::Response::error("INTERNAL SERVER ERROR", 500)
                    .map_err(|e| JsValue::from_str(&e.to_string()))?
            }
        };
        Ok(web_sys::Response::from(response).into())
    }
}

/// The consumer of the usage queue (`INGEST_MODE = "queue"`): stores each batch of queued
/// requests with one raw object and one insert.
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, ctx: Context) -> worker::Result<()> {
    queue::consume(batch, &env, &ctx).await;
    Ok(())
}

/// The Cron Trigger runs as of its slot's time (`scheduledTime`), not the moment the runtime
/// got to it, so one slot's run sees one instant, and a test can run the slot of its choice.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let slot = event.schedule();
    use crate::core::kernel::clock::Clock;
    let at = (slot.is_finite() && slot > 0.0)
        .then(|| chrono::DateTime::from_timestamp_millis(slot as i64))
        .flatten()
        .unwrap_or_else(|| router::WorkerClock.now());
    let report = cron::run(&env, &crate::core::kernel::clock::FixedClock(at)).await;
    worker::console_log!("cron: {}", crate::core::kernel::json_value::text(&report));
}
