//! The inspect page's workbench: the Kaizala registration call for a bin, its settings form
//! (and page), and the "Send a sample" form that posts sample events to the bin.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::future::join_all;
use serde::Deserialize;

use super::{
    api::save_settings,
    extract::Bin,
    origin,
    pages::{html, see_other},
};
use crate::{
    config::parse_event_choice,
    error::AppError,
    kaizala::{
        samples::{sample, SampleOptions},
        EventType,
    },
    render::{self, BodyView, Tokens},
    send_sample::{SendError, Sender, TIMEOUT},
    settings::{form::SettingsForm, Settings},
    state::AppState,
    store::BinRecord,
};

/// A bin's settings on a page of their own: where the form lands when it is refused.
#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    bin_id: String,
    short_id: String,
    form: SettingsForm,
    settings_error: Option<String>,
}

/// The body of Kaizala's webhook registration call (`POST {endpoint-url}/v1/webhook`) for
/// this bin: every event type, its capture URL, and its callback token and context.
fn registration(capture_url: &str, settings: &Settings) -> serde_json::Value {
    let mut body = serde_json::json!({
        "objectId": "<your group id>",
        "objectType": "Group",
        "eventTypes": EventType::ALL.map(EventType::name),
        "callBackUrl": capture_url,
    });
    if let Some(object) = body.as_object_mut() {
        let checks = &settings.kaizala;
        if let Some(token) = &checks.callback_token {
            object.insert("callBackToken".to_owned(), token.clone().into());
        }
        if let Some(context) = &checks.context {
            object.insert("callBackContext".to_owned(), context.clone().into());
        }
    }
    body
}

/// The registration body as highlighted JSON.
pub(super) fn registration_tokens(capture_url: &str, settings: &Settings) -> Tokens {
    let text = serde_json::to_vec(&registration(capture_url, settings)).unwrap_or_default();
    match render::view(Some("application/json"), &text) {
        BodyView::Json { tokens, .. } => tokens,
        _ => Tokens::default(),
    }
}

/// The registration call as a curl line; the endpoint URL and access token come from the
/// shell's variables, so the line runs as it is once they are set.
pub(super) fn registration_curl(capture_url: &str, settings: &Settings) -> String {
    format!(
        "curl -X POST \"$ENDPOINT_URL/v1/webhook\" \\\n  -H \"accessToken: $ACCESS_TOKEN\" \\\n  \
         -H 'Content-Type: application/json' \\\n  -d {}",
        origin::shell_quote(&registration(capture_url, settings).to_string())
    )
}

/// `binspector send-sample` for this bin, with its token and context, ready to paste.
pub(super) fn sample_command(capture_url: &str, settings: &Settings, self_signed: bool) -> String {
    let mut command = format!(
        "binspector send-sample --to {} --event all",
        origin::shell_quote(capture_url)
    );
    if let Some(token) = &settings.kaizala.callback_token {
        command.push_str(&format!(" --token {}", origin::shell_quote(token)));
    }
    if let Some(context) = &settings.kaizala.context {
        command.push_str(&format!(" --context {}", origin::shell_quote(context)));
    }
    if self_signed {
        command.push_str(" --insecure");
    }
    command
}

/// The event types the "Send a sample" menu offers, as name and label.
pub(super) fn sample_events() -> Vec<(&'static str, &'static str)> {
    EventType::ALL
        .into_iter()
        .map(|kind| (kind.name(), kind.label()))
        .collect()
}

/// `GET /inspect/{bin}/settings`: the settings form on a page of its own.
pub(super) async fn settings_page(Bin(bin): Bin) -> Result<HttpResponse, AppError> {
    let form = SettingsForm::of(&bin.settings());
    Ok(html(settings_page_body(&bin, form, None)?))
}

fn settings_page_body(
    bin: &BinRecord,
    form: SettingsForm,
    settings_error: Option<String>,
) -> Result<String, AppError> {
    Ok(SettingsPage {
        bin_id: bin.id.clone(),
        short_id: bin.id.chars().take(8).collect(),
        form,
        settings_error,
    }
    .render()?)
}

/// `POST /inspect/{bin}/settings`: saves the form and goes back to the bin; a value out of
/// range is `422` with the form as it was sent and the field named.
pub(super) async fn settings_form(
    req: HttpRequest,
    Bin(bin): Bin,
    form: web::Form<SettingsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    origin::same_origin(&req, &state)?;
    let form = form.into_inner();
    match form.read_over(&bin.settings()) {
        Ok(settings) => {
            save_settings(&state, &bin, &settings).await?;
            Ok(see_other(format!("/inspect/{}?saved", bin.id)))
        }
        Err(invalid) => {
            let body = settings_page_body(&bin, form, Some(invalid.to_string()))?;
            Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(body))
        }
    }
}

/// The "Send a sample" form.
#[derive(Deserialize)]
pub(super) struct SampleForm {
    /// An event type's name, or `all`.
    event: String,
    /// Present when "send it twice" is checked.
    twice: Option<String>,
}

/// `POST /inspect/{bin}/samples`: posts sample events of the chosen type (or all 13), with the
/// bin's callback token and context, to the bin's capture URL on this server's own HTTPS
/// listener: through TLS, the capture handler and the writer, as a sender's would go. Then
/// back to the bin, where they are the newest requests.
pub(super) async fn samples_form(
    req: HttpRequest,
    Bin(bin): Bin,
    form: web::Form<SampleForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    origin::same_origin(&req, &state)?;
    let choice = parse_event_choice(&form.event).map_err(AppError::BadRequest)?;
    let settings = bin.settings();
    let options = SampleOptions {
        callback_token: settings.kaizala.callback_token.as_deref(),
        context: settings.kaizala.context.as_deref(),
    };
    // The listener is this very server, whatever its certificate: nothing is verified on a
    // connection to ourselves. A configured delay holds each answer that long.
    let delay = settings
        .response
        .as_ref()
        .map_or(0, |response| response.delay_ms);
    let sender = Sender::new(true)
        .map_err(|err| AppError::SampleNotSent(err.to_string()))?
        .with_timeout(TIMEOUT + Duration::from_millis(u64::from(delay)));
    let url = format!("https://{}/{}", state.own_https, bin.id);
    let times = if form.twice.is_some() { 2 } else { 1 };
    // The types go out side by side; a type's second delivery follows its first.
    let deliveries = choice.event_types().into_iter().map(|event_type| {
        let sample = sample(event_type, &options);
        let (sender, url) = (&sender, &url);
        async move {
            let mut statuses = Vec::with_capacity(times);
            for _ in 0..times {
                statuses.push(sender.send(url, &sample).await?);
            }
            Ok::<_, SendError>(statuses)
        }
    });
    let mut statuses = Vec::new();
    for delivered in join_all(deliveries).await {
        statuses.extend(delivered.map_err(|err| AppError::SampleNotSent(err.to_string()))?);
    }
    let sent = statuses.len();
    let not_2xx = statuses
        .iter()
        .filter(|status| !status.is_success())
        .count();
    tracing::info!(bin = %bin.id, sent, not_2xx, "samples sent from the inspect page");
    Ok(see_other(format!(
        "/inspect/{}?sent={sent}&not_2xx={not_2xx}",
        bin.id
    )))
}
