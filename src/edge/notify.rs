//! The edge's [`Notifier`]: email through the `send_email` binding, webhooks through `fetch`.

use worker::{AbortSignal, EmailMessage, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::core::budgets::alerts::Notifier;

use super::bindings::ALERT_EMAIL;

/// How long a webhook, Slack or Discord post may take before it counts as failed (and the next
/// run retries it): one slow receiver never holds a run's other sends, which go one after
/// another, nor the run past its time.
const POST_TIMEOUT_MS: u32 = 10_000;

pub struct EdgeNotifier<'a> {
    pub env: &'a Env,
}

impl Notifier for EdgeNotifier<'_> {
    async fn send_email(&self, from: &str, to: &str, raw_mime: &str) -> Result<(), String> {
        let binding = self
            .env
            .send_email(ALERT_EMAIL)
            .map_err(|e| format!("the `{ALERT_EMAIL}` send_email binding is missing: {e}"))?;
        let message = EmailMessage::new(from, to, raw_mime).map_err(|e| e.to_string())?;
        binding.send(&message).await.map(|_| ()).map_err(|e| {
            format!(
                "send_email refused the message: {}",
                String::from(e.message())
            )
        })
    }

    async fn post_webhook(
        &self,
        url: &str,
        body: &str,
        headers: &[(String, String)],
    ) -> Result<(), String> {
        let h = Headers::new();
        for (k, v) in headers {
            h.set(k, v).map_err(|e| e.to_string())?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(h)
            .with_body(Some(body.into()));
        let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
        let signal = AbortSignal::from(worker::web_sys::AbortSignal::timeout_with_u32(
            POST_TIMEOUT_MS,
        ));
        let response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| {
                if signal.aborted() {
                    format!("webhook did not answer within {} s", POST_TIMEOUT_MS / 1000)
                } else {
                    format!("webhook unreachable: {e}")
                }
            })?;
        let status = response.status_code();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("webhook answered HTTP {status}"))
        }
    }
}
