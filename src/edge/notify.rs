//! The edge's [`Notifier`]: email through the `send_email` binding, webhooks through `fetch`.

use worker::{EmailMessage, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::core::budgets::alerts::Notifier;

use super::bindings::ALERT_EMAIL;

pub struct EdgeNotifier<'a> {
    pub env: &'a Env,
}

impl Notifier for EdgeNotifier<'_> {
    async fn send_email(&self, from: &str, to: &str, raw_mime: &str) -> Result<(), String> {
        let binding = self
            .env
            .send_email(ALERT_EMAIL)
            .map_err(|e| format!("the `{ALERT_EMAIL}` send_email binding is missing: {e}"))?;
        let message = EmailMessage::new(from, to, raw_mime).map_err(|e| format!("{e:?}"))?;
        binding
            .send(&message)
            .await
            .map(|_| ())
            .map_err(|e| format!("send_email refused the message: {e:?}"))
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
        let response = Fetch::Request(request)
            .send()
            .await
            .map_err(|e| format!("webhook unreachable: {e}"))?;
        let status = response.status_code();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("webhook answered HTTP {status}"))
        }
    }
}
