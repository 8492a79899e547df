//! The server-rendered inspector: home, the inspect page, one request, the card fragment used
//! for live arrivals, and the POST forms that create, clear and delete.

use actix_web::{
    cookie::{time::Duration as CookieAge, Cookie, SameSite},
    http::header,
    web, HttpRequest, HttpResponse,
};
use askama::Template;

use super::{
    api::{create, listing_prefix, whole_request},
    extract::{Bin, ListParams, RequestId},
    origin,
    view::{content_encoding, human_size, RequestCard},
    workbench,
};
use crate::{
    clock,
    error::AppError,
    kaizala::{summary::Details, EventType, Family},
    render::{self, BodyView, Tokens},
    settings::form::SettingsForm,
    state::AppState,
    store::{valid_bin_id, BinRecord, Command, Listing},
};

/// Bytes of a body a live card reads and highlights; the inspect page reads as much of each
/// (less on pages of more than 64 requests), and a request's own page reads it whole and
/// highlights up to [`render::MAX_TEXT`].
const CARD_BODY: usize = 64 * 1024;
/// Memory a page takes to render, per byte of body it shows (tokens, then HTML).
const RENDER_COST: usize = 8;
/// The cookie listing the bins this browser created, newest first.
const BINS_COOKIE: &str = "binspector_bins";
/// Bins remembered in the cookie.
const BINS_REMEMBERED: usize = 30;

/// A bin on the home page.
pub struct BinRow {
    pub id: String,
    pub created_at: String,
    pub request_count: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    bins: Vec<BinRow>,
    /// No access token: anyone with a bin's URL can read it.
    open: bool,
    /// The database file's size.
    database_size: String,
    /// `--max-db-size`, if set.
    quota: Option<String>,
    /// How full the quota is, in percent.
    quota_used: u64,
}

/// A filter chip: one Kaizala event type present in the bin.
pub struct Chip {
    pub event_type: String,
    /// What a documented type is, for people ("Survey response").
    pub label: Option<&'static str>,
    pub family: &'static str,
    pub count: i64,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "inspect.html")]
struct InspectPage {
    bin_id: String,
    short_id: String,
    total: i64,
    capture_url: String,
    /// Why senders that verify TLS cannot deliver to the capture URL, if they cannot.
    unreachable: Option<Unreachable>,
    curl_line: String,
    /// Captures refused by `--capture-limit`, and since when.
    dropped: Option<(u64, String)>,
    /// The bin's settings, as its form shows them.
    form: SettingsForm,
    settings_error: Option<String>,
    /// `fail_next`: captures still to fail, and their status.
    failing: Option<(u32, u16)>,
    /// What the form just done did: settings saved, or samples sent.
    done: Option<String>,
    /// `binspector send-sample` for this bin, ready to paste.
    sample_command: String,
    /// The configured response's status and delay, if one is set.
    custom: Option<(u16, u32)>,
    /// The body of Kaizala's webhook registration call, and the call as a curl line.
    registration: Tokens,
    registration_curl: String,
    /// The event types the "Send a sample" menu offers: name and label.
    sample_events: Vec<(&'static str, &'static str)>,
    chips: Vec<Chip>,
    filter: Option<String>,
    cards: Vec<RequestCard>,
    paged: bool,
    live: bool,
    newest_href: String,
    older_href: Option<String>,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    card: RequestCard,
}

#[derive(Template)]
#[template(path = "card_fragment.html")]
struct CardFragment {
    card: RequestCard,
}

/// The one error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
}

/// An HTML answer.
pub(super) fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

pub(super) fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The bins remembered by this browser's cookie, valid ids only.
fn remembered_bins(req: &HttpRequest) -> Vec<String> {
    req.cookie(BINS_COOKIE)
        .map(|cookie| {
            cookie
                .value()
                .split('.')
                .filter(|id| valid_bin_id(id))
                .take(BINS_REMEMBERED)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn bins_cookie(req: &HttpRequest, ids: &[String]) -> Cookie<'static> {
    Cookie::build(BINS_COOKIE, ids.join("."))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(origin::is_https(req))
        .max_age(CookieAge::days(365))
        .finish()
}

/// `GET /`
pub(super) async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let bins = state
        .store
        .bins(&remembered_bins(&req))
        .await?
        .into_iter()
        .map(|bin| BinRow {
            created_at: clock::rfc3339_millis(bin.created_at),
            id: bin.id,
            request_count: bin.request_count,
        })
        .collect();
    let (size, _free) = state.store.file_size().await?;
    let quota = state.config.max_db_size();
    let size_text = |bytes: u64| human_size(i64::try_from(bytes).unwrap_or(i64::MAX));
    let page = HomePage {
        bins,
        open: state.access.is_none(),
        database_size: size_text(size),
        quota: quota.map(size_text),
        quota_used: quota.map_or(0, |quota| size.saturating_mul(100) / quota.max(1)),
    };
    Ok(html(page.render()?))
}

/// `POST /bins`: create a bin, remember it in the cookie, go to its page.
pub(super) async fn create_bin(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    origin::same_origin(&req, &state)?;
    let bin = create(&req, &state).await?;
    let mut ids = vec![bin.id.clone()];
    ids.extend(remembered_bins(&req).into_iter().take(BINS_REMEMBERED - 1));
    let mut response = see_other(format!("/inspect/{}", bin.id));
    response
        .add_cookie(&bins_cookie(&req, &ids))
        .map_err(|_| AppError::BadRequest("could not set the bins cookie".to_owned()))?;
    Ok(response)
}

/// `GET /inspect/{bin}`: the bin's newest requests (or older ones, or one event type).
pub(super) async fn inspect(
    req: HttpRequest,
    Bin(bin): Bin,
    params: ListParams,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    // Up to 64 KiB of each body, and 4 MiB in all for pages of many requests.
    let prefix = listing_prefix(params.limit);
    let listing = Listing {
        before: params.before,
        event_type: params.event.as_deref(),
        limit: params.limit,
        body_prefix: prefix,
    };
    let page = state.store.requests(&bin, &listing).await?;
    // Highlighting and the page cost several times the bodies they show: parallel pages of a
    // bin of large bodies wait for memory instead of taking it all.
    let shown: usize = page.requests.iter().map(|request| request.body.len()).sum();
    let mut reservation = state
        .read_budget
        .reservation(state.client_ip(req.peer_addr(), req.headers()));
    reservation
        .grow(
            shown.saturating_mul(RENDER_COST),
            state.config.queue_timeout,
        )
        .await?;
    let counts = state.store.event_counts(&bin).await?;
    let capture_url = format!("{}/{}", origin::base_url(&req, &state), bin.id);
    let unreachable = Unreachable::find(&req, &state, &capture_url);
    let self_signed = unreachable == Some(Unreachable::SelfSigned);
    let dropped = state
        .store
        .drops(&bin)
        .map(|drops| (drops.count, clock::rfc3339_millis(drops.since)));
    let settings = bin.settings();
    let done = done_notice(req.query_string());
    // Building the cards and the page is the costly part; it runs off the threads that
    // answer captures.
    let body = web::block(move || {
        let filter = params.event;
        let chips = counts
            .into_iter()
            .map(|(event_type, count)| Chip {
                active: filter.as_deref() == Some(event_type.as_str()),
                label: EventType::parse(&event_type).map(EventType::label),
                family: Family::of(&event_type).name(),
                event_type,
                count,
            })
            .collect();
        let now = clock::now_millis();
        let page_href = |before: Option<i64>| inspect_href(&bin, before, filter.as_deref());
        InspectPage {
            bin_id: bin.id.clone(),
            short_id: bin.id.chars().take(8).collect(),
            total: bin.request_count,
            curl_line: curl_line(&capture_url, self_signed),
            done,
            sample_command: workbench::sample_command(&capture_url, &settings, self_signed),
            dropped,
            form: SettingsForm::of(&settings),
            settings_error: None,
            failing: (settings.fail_next.count > 0)
                .then_some((settings.fail_next.count, settings.fail_next.status)),
            custom: settings
                .response
                .as_ref()
                .map(|response| (response.status, response.delay_ms)),
            registration: workbench::registration_tokens(&capture_url, &settings),
            registration_curl: workbench::registration_curl(&capture_url, &settings),
            sample_events: workbench::sample_events(),
            capture_url,
            unreachable,
            chips,
            cards: page
                .requests
                .into_iter()
                .map(|request| RequestCard::new(request, now, prefix))
                .collect(),
            paged: params.before.is_some(),
            live: params.before.is_none(),
            newest_href: page_href(None),
            older_href: page.next_before.map(|next| page_href(Some(next))),
            filter,
        }
        .render()
    })
    .await??;
    drop(reservation);
    Ok(html(body))
}

/// The inspect page's own URL for a page of older requests and an event filter.
fn inspect_href(bin: &BinRecord, before: Option<i64>, event: Option<&str>) -> String {
    let mut params = Vec::new();
    if let Some(before) = before {
        params.push(("before", before.to_string()));
    }
    if let Some(event) = event {
        params.push(("event", event.to_owned()));
    }
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    if query.is_empty() {
        format!("/inspect/{}", bin.id)
    } else {
        format!("/inspect/{}?{query}", bin.id)
    }
}

/// A curl command that sends a small Kaizala-shaped event to the bin. The URL is quoted as one
/// shell word, so nothing in it can run when the line is pasted.
/// Why a webhook sender could not deliver to a capture URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreachable {
    /// The URL is `http://`: Kaizala and most senders require `https://`.
    NotHttps,
    /// The URL reaches this server's own listener, which serves the self-signed certificate.
    SelfSigned,
}

impl Unreachable {
    /// Judged from the URL and, when the page came through this server's own HTTPS listener
    /// (no proxy in front), the certificate it serves: a proxy or `--public-url` host has a
    /// certificate of its own.
    fn find(req: &HttpRequest, state: &AppState, capture_url: &str) -> Option<Unreachable> {
        if !capture_url.starts_with("https://") {
            return Some(Unreachable::NotHttps);
        }
        let own_listener = origin::reached_directly_over_https(req);
        (own_listener && !state.certificates.is_trusted()).then_some(Unreachable::SelfSigned)
    }

    fn not_https(&self) -> bool {
        *self == Unreachable::NotHttps
    }
}

/// What `?saved` (after the settings form) and `?sent=N&not_2xx=M` (after the samples form)
/// say at the top of the page.
fn done_notice(query: &str) -> Option<String> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let param = |key: &str| params.iter().find(|(name, _)| name == key).map(|(_, v)| v);
    if param("saved").is_some() {
        return Some("Settings saved: they apply from the next capture.".to_owned());
    }
    let sent: u32 = param("sent")?.parse().ok()?;
    let failed: u32 = param("not_2xx").and_then(|n| n.parse().ok()).unwrap_or(0);
    let plural = if sent == 1 { "" } else { "s" };
    Some(match failed {
        0 => format!("Sent {sent} sample event{plural} to the capture URL; each was answered 2xx."),
        _ => format!(
            "Sent {sent} sample event{plural} to the capture URL; {failed} answered other than \
             2xx, as this bin's settings say."
        ),
    })
}

fn curl_line(capture_url: &str, self_signed: bool) -> String {
    let insecure = if self_signed { " -k" } else { "" };
    let event = r#"{"objectType":"Group","objectId":"test-group","eventType":"TextMessageCreated","eventId":"test-1","fromUserName":"curl","data":{"text":"Hello from curl"}}"#;
    format!(
        "curl{insecure} -X POST {} -H 'Content-Type: application/json' \\\n  -d {}",
        origin::shell_quote(capture_url),
        origin::shell_quote(event)
    )
}

/// `GET /inspect/{bin}/{request}`: one request, with its whole body.
pub(super) async fn inspect_request(
    req: HttpRequest,
    Bin(bin): Bin,
    RequestId(id): RequestId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (mut request, reservation) = whole_request(&req, &state, &bin, id).await?;
    // `?decoded`: the body with its Content-Encoding undone, computed now and never stored.
    let decoded = req
        .query_string()
        .split('&')
        .any(|param| param == "decoded")
        && content_encoding(&request).is_some();
    let body = web::block(move || {
        let encoded = decoded.then(|| std::mem::take(&mut request.body));
        let mut card = RequestCard::new(request, clock::now_millis(), render::MAX_TEXT);
        if let Some(encoded) = encoded {
            card.show_decoded(&encoded);
        }
        // On its own page a request is opened to be read: the body is shown open.
        card.body_open = true;
        drop(reservation);
        RequestPage { card }.render()
    })
    .await??;
    Ok(html(body))
}

/// `GET /inspect/{bin}/cards/{request}`: one card without the page around it, for live pages.
pub(super) async fn card_fragment(
    Bin(bin): Bin,
    RequestId(id): RequestId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let request = state
        .store
        .request_prefix(&bin, id, CARD_BODY)
        .await?
        .ok_or(AppError::RequestNotFound)?;
    let body = web::block(move || {
        let card = RequestCard::new(request, clock::now_millis(), CARD_BODY);
        CardFragment { card }.render()
    })
    .await??;
    Ok(html(body))
}

/// Runs a bin form's command after the same-origin check.
async fn bin_form(req: &HttpRequest, state: &AppState, command: Command) -> Result<(), AppError> {
    origin::same_origin(req, state)?;
    state.store.writer().run(command).await?;
    Ok(())
}

/// `POST /inspect/{bin}/clear`
pub(super) async fn clear_form(
    req: HttpRequest,
    Bin(bin): Bin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let target = format!("/inspect/{}", bin.id);
    bin_form(&req, &state, Command::ClearBin { id: bin.id }).await?;
    Ok(see_other(target))
}

/// `POST /inspect/{bin}/delete`
pub(super) async fn delete_form(
    req: HttpRequest,
    Bin(bin): Bin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let remaining: Vec<String> = remembered_bins(&req)
        .into_iter()
        .filter(|remembered| *remembered != bin.id)
        .collect();
    bin_form(&req, &state, Command::DeleteBin { id: bin.id }).await?;
    let mut response = see_other("/".to_owned());
    response
        .add_cookie(&bins_cookie(&req, &remaining))
        .map_err(|_| AppError::BadRequest("could not set the bins cookie".to_owned()))?;
    Ok(response)
}

/// `POST /inspect/{bin}/{request}/delete`
pub(super) async fn delete_request_form(
    req: HttpRequest,
    Bin(bin): Bin,
    RequestId(id): RequestId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let target = format!("/inspect/{}", bin.id);
    bin_form(&req, &state, Command::DeleteRequest { bin_id: bin.id, id }).await?;
    Ok(see_other(target))
}
