//! The JSON API under `/api/v1`: bins, their requests, and raw bodies served inert.

use actix_web::{http::header, web, HttpRequest, HttpResponse, Scope};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::{
    clock,
    error::AppError,
    store::{new_bin_id, valid_bin_id, BinRecord, Command, StoredRequest},
};

/// Requests per page when `limit` is not given, and the most one page may hold.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

pub(super) fn scope() -> Scope {
    web::scope("/api/v1")
        .route("/bins", web::post().to(create_bin))
        .service(
            web::resource("/bins/{bin}")
                .route(web::get().to(get_bin))
                .route(web::delete().to(delete_bin)),
        )
        .service(
            web::resource("/bins/{bin}/requests")
                .route(web::get().to(list_requests))
                .route(web::delete().to(clear_bin)),
        )
        .service(
            web::resource("/bins/{bin}/requests/{request}")
                .route(web::get().to(get_request))
                .route(web::delete().to(delete_request)),
        )
        .route(
            "/bins/{bin}/requests/{request}/raw",
            web::get().to(raw_body),
        )
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(AppError::NotFound)
        }))
}

/// A bin as the API shows it.
#[derive(Serialize)]
pub struct BinJson {
    pub id: String,
    pub capture_url: String,
    pub inspect_url: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_count: Option<i64>,
}

impl BinJson {
    fn new(bin: &BinRecord, base: &str, with_count: bool) -> Self {
        BinJson {
            id: bin.id.clone(),
            capture_url: format!("{base}/{}", bin.id),
            inspect_url: format!("{base}/inspect/{}", bin.id),
            created_at: clock::rfc3339_millis(bin.created_at),
            request_count: with_count.then_some(bin.request_count),
        }
    }
}

/// A captured request as the API shows it (DESIGN §2).
#[derive(Serialize)]
pub struct RequestJson {
    pub id: String,
    pub bin_id: String,
    pub received_at: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body_size: i64,
    pub body_base64: String,
    pub body_text: Option<String>,
    pub remote_addr: Option<String>,
    /// `stored`, `rejected` (body over the limit, not kept) or `handshake` (validationToken).
    pub outcome: &'static str,
    pub kaizala: Option<KaizalaJson>,
}

/// The Kaizala facts of a request.
#[derive(Serialize)]
pub struct KaizalaJson {
    pub event_type: String,
    pub event_id: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub duplicate_of: Option<String>,
}

impl From<StoredRequest> for RequestJson {
    fn from(request: StoredRequest) -> Self {
        let body_base64 = base64::engine::general_purpose::STANDARD.encode(&request.body);
        let body_text = String::from_utf8(request.body).ok();
        RequestJson {
            id: request.id.to_string(),
            bin_id: request.bin_id,
            received_at: clock::rfc3339_millis(request.received_at),
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            content_type: request.content_type,
            body_size: request.body_size,
            body_base64,
            body_text,
            remote_addr: request.remote_addr,
            outcome: request.outcome.as_str(),
            kaizala: request.kaizala.map(|event| KaizalaJson {
                event_type: event.event_type,
                event_id: event.event_id,
                object_type: event.object_type,
                object_id: event.object_id,
                duplicate_of: request.duplicate_of.map(|id| id.to_string()),
            }),
        }
    }
}

#[derive(Serialize)]
struct RequestList {
    requests: Vec<RequestJson>,
    next_before: Option<String>,
}

#[derive(Serialize)]
struct Deleted {
    deleted: u64,
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<String>,
    before: Option<String>,
    event: Option<String>,
}

/// Checks a bin id from the path; a malformed one is simply not found.
pub(super) fn bin_id(raw: &str) -> Result<&str, AppError> {
    valid_bin_id(raw)
        .then_some(raw)
        .ok_or(AppError::BinNotFound)
}

/// Parses a request id from the path.
pub(super) fn request_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::RequestNotFound)
}

/// Creates a bin and returns its record.
pub(super) async fn create(state: &AppState) -> Result<BinRecord, AppError> {
    let bin = BinRecord {
        id: new_bin_id(),
        created_at: clock::now_millis(),
        request_count: 0,
    };
    state
        .store
        .writer()
        .run(Command::CreateBin {
            id: bin.id.clone(),
            created_at: bin.created_at,
        })
        .await?;
    tracing::info!(bin = %bin.id, "bin created");
    Ok(bin)
}

async fn create_bin(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let bin = create(&state).await?;
    let view = BinJson::new(&bin, &state.base_url(&req), false);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/bins/{}", bin.id)))
        .json(view))
}

async fn get_bin(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let bin = state
        .store
        .bin(bin_id(&path)?)
        .await?
        .ok_or(AppError::BinNotFound)?;
    Ok(HttpResponse::Ok().json(BinJson::new(&bin, &state.base_url(&req), true)))
}

async fn delete_bin(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = bin_id(&path)?.to_owned();
    let deleted = state.store.writer().run(Command::DeleteBin { id }).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}

async fn list_requests(
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let bin = bin_id(&path)?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let before = match query.before.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            AppError::BadRequest("before must be a request id from next_before".to_owned())
        })?),
    };
    state.store.bin(bin).await?.ok_or(AppError::BinNotFound)?;
    let page = state
        .store
        .requests(
            bin,
            before,
            limit,
            query.event.as_deref().filter(|e| !e.is_empty()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(RequestList {
        next_before: page.next_before.map(|id| id.to_string()),
        requests: page.requests.into_iter().map(RequestJson::from).collect(),
    }))
}

async fn clear_bin(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = bin_id(&path)?.to_owned();
    let deleted = state.store.writer().run(Command::ClearBin { id }).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}

async fn get_request(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let request = state
        .store
        .request(bin_id(&path.0)?, request_id(&path.1)?)
        .await?
        .ok_or(AppError::RequestNotFound)?;
    Ok(HttpResponse::Ok().json(RequestJson::from(request)))
}

async fn delete_request(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let command = Command::DeleteRequest {
        bin_id: bin_id(&path.0)?.to_owned(),
        id: request_id(&path.1)?,
    };
    let deleted = state.store.writer().run(command).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}

/// The body byte for byte, as a download that no browser will run or sniff.
async fn raw_body(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let bin = bin_id(&path.0)?;
    let request = state
        .store
        .request(bin, request_id(&path.1)?)
        .await?
        .ok_or(AppError::RequestNotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"request-{}.bin\"", request.id),
        ))
        .body(request.body))
}
