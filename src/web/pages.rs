//! The server-rendered inspector: home, the inspect page, one request, the card fragment used
//! for live arrivals, and the POST forms that create, clear and delete.

use actix_web::{
    cookie::{time::Duration as CookieAge, Cookie, SameSite},
    http::header,
    web, HttpRequest, HttpResponse,
};
use askama::Template;
use serde::Deserialize;

use super::{
    api::{bin_id, create, request_id},
    view::RequestCard,
    AppState,
};
use crate::{
    clock,
    error::AppError,
    kaizala::{summary::Details, Family},
    render::{self, BodyView, Token},
    store::{valid_bin_id, Command},
};

/// Requests per inspect page.
const PAGE_SIZE: u32 = 50;
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
}

/// A filter chip: one Kaizala event type present in the bin.
pub struct Chip {
    pub event_type: String,
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
    curl_line: String,
    registration: Vec<Token>,
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

#[derive(Deserialize)]
pub(super) struct InspectQuery {
    before: Option<String>,
    event: Option<String>,
}

/// An HTML answer.
fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn see_other(location: String) -> HttpResponse {
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
        .secure(req.connection_info().scheme() == "https")
        .max_age(CookieAge::days(365))
        .finish()
}

/// Refuses state-changing forms sent from another site (the browser says where a form came from).
fn same_origin(req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(AppError::CrossSite),
        };
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // No Origin and no Sec-Fetch-Site: not a browser form, so not a forged one.
        None => Ok(()),
        Some(origin) if origin == state.base_url(req) => Ok(()),
        Some(origin) => {
            let info = req.connection_info();
            let own = format!("{}://{}", info.scheme(), info.host());
            if origin == own {
                Ok(())
            } else {
                Err(AppError::CrossSite)
            }
        }
    }
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
    Ok(html(HomePage { bins }.render()?))
}

/// `POST /bins`: create a bin, remember it in the cookie, go to its page.
pub(super) async fn create_bin(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    same_origin(&req, &state)?;
    let bin = create(&state).await?;
    let mut ids = vec![bin.id.clone()];
    ids.extend(remembered_bins(&req).into_iter().take(BINS_REMEMBERED - 1));
    let mut response = see_other(format!("/inspect/{}", bin.id));
    response
        .add_cookie(&bins_cookie(&req, &ids))
        .map_err(|_| AppError::BadRequest("could not set the bins cookie".to_owned()))?;
    Ok(response)
}

/// `GET /inspect/{bin}`
pub(super) async fn inspect(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<InspectQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = bin_id(&path)?;
    let bin = state.store.bin(id).await?.ok_or(AppError::BinNotFound)?;
    let before = match query.before.as_deref().filter(|b| !b.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| AppError::BadRequest("`before` must be a request id".to_owned()))?,
        ),
    };
    let filter = query.event.clone().filter(|event| !event.is_empty());
    let page = state
        .store
        .requests(id, before, PAGE_SIZE, filter.as_deref())
        .await?;
    let chips = state
        .store
        .event_counts(id)
        .await?
        .into_iter()
        .map(|(event_type, count)| Chip {
            active: filter.as_deref() == Some(event_type.as_str()),
            family: Family::of(&event_type).name(),
            event_type,
            count,
        })
        .collect();

    let now = clock::now_millis();
    let capture_url = format!("{}/{id}", state.base_url(&req));
    let page_href = |before: Option<i64>| {
        let mut params = Vec::new();
        if let Some(before) = before {
            params.push(("before", before.to_string()));
        }
        if let Some(event) = &filter {
            params.push(("event", event.clone()));
        }
        let query = serde_urlencoded::to_string(&params).unwrap_or_default();
        if query.is_empty() {
            format!("/inspect/{id}")
        } else {
            format!("/inspect/{id}?{query}")
        }
    };
    let body = InspectPage {
        bin_id: id.to_owned(),
        short_id: id.chars().take(8).collect(),
        total: bin.request_count,
        curl_line: curl_line(&capture_url, state.config.tls_cert.is_none()),
        registration: registration_tokens(&capture_url),
        capture_url,
        chips,
        cards: page
            .requests
            .into_iter()
            .map(|request| RequestCard::new(request, now))
            .collect(),
        paged: before.is_some(),
        live: before.is_none(),
        newest_href: page_href(None),
        older_href: page.next_before.map(|next| page_href(Some(next))),
        filter,
    };
    Ok(html(body.render()?))
}

/// A curl command that sends a small Kaizala-shaped event to the bin.
fn curl_line(capture_url: &str, self_signed: bool) -> String {
    let insecure = if self_signed { " -k" } else { "" };
    format!(
        "curl{insecure} -X POST '{capture_url}' -H 'Content-Type: application/json' \\\n  \
         -d '{{\"objectType\":\"Group\",\"objectId\":\"test-group\",\"eventType\":\"TextMessageCreated\",\
         \"eventId\":\"test-1\",\"fromUserName\":\"curl\",\"data\":{{\"text\":\"Hello from curl\"}}}}'"
    )
}

/// The body of a Kaizala webhook registration pointing at this bin, as highlighted JSON.
fn registration_tokens(capture_url: &str) -> Vec<Token> {
    let registration = serde_json::json!({
        "objectId": "<your group id>",
        "objectType": "Group",
        "eventTypes": [
            "TextMessageCreated", "AttachmentCreated", "Announcement",
            "SurveyCreated", "SurveyResponse", "ActionCreated", "ActionResponse",
            "JobCreated", "JobResponse", "MemberAdded", "MemberRemoved",
        ],
        "callBackUrl": capture_url,
        "callBackToken": "<a secret you choose>",
        "callBackContext": "binspector",
    });
    let text = serde_json::to_vec(&registration).unwrap_or_default();
    match render::view(Some("application/json"), &text) {
        BodyView::Json { tokens, .. } => tokens,
        _ => Vec::new(),
    }
}

/// `GET /inspect/{bin}/{request}`
pub(super) async fn inspect_request(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let card = load_card(&state, &path.0, &path.1).await?;
    Ok(html(RequestPage { card }.render()?))
}

/// `GET /inspect/{bin}/cards/{request}`: one card without the page around it, for live pages.
pub(super) async fn card_fragment(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let card = load_card(&state, &path.0, &path.1).await?;
    Ok(html(CardFragment { card }.render()?))
}

async fn load_card(state: &AppState, bin: &str, request: &str) -> Result<RequestCard, AppError> {
    let request = state
        .store
        .request(bin_id(bin)?, request_id(request)?)
        .await?
        .ok_or(AppError::RequestNotFound)?;
    Ok(RequestCard::new(request, clock::now_millis()))
}

/// Runs a bin form's command after the same-origin check; returns the bin id.
async fn bin_form(
    req: &HttpRequest,
    path: &str,
    state: &AppState,
    command: fn(String) -> Command,
) -> Result<String, AppError> {
    same_origin(req, state)?;
    let id = bin_id(path)?.to_owned();
    state.store.writer().run(command(id.clone())).await?;
    Ok(id)
}

/// `POST /inspect/{bin}/clear`
pub(super) async fn clear_form(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = bin_form(&req, &path, &state, |id| Command::ClearBin { id }).await?;
    Ok(see_other(format!("/inspect/{id}")))
}

/// `POST /inspect/{bin}/delete`
pub(super) async fn delete_form(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = bin_form(&req, &path, &state, |id| Command::DeleteBin { id }).await?;
    let remaining: Vec<String> = remembered_bins(&req)
        .into_iter()
        .filter(|bin| *bin != id)
        .collect();
    let mut response = see_other("/".to_owned());
    response
        .add_cookie(&bins_cookie(&req, &remaining))
        .map_err(|_| AppError::BadRequest("could not set the bins cookie".to_owned()))?;
    Ok(response)
}

/// `POST /inspect/{bin}/{request}/delete`
pub(super) async fn delete_request_form(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    same_origin(&req, &state)?;
    let bin = bin_id(&path.0)?.to_owned();
    let id = request_id(&path.1)?;
    state
        .store
        .writer()
        .run(Command::DeleteRequest {
            bin_id: bin.clone(),
            id,
        })
        .await?;
    Ok(see_other(format!("/inspect/{bin}")))
}
