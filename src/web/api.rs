//! The JSON API under `/api/v1`: bins, their requests, and raw bodies served inert.

use std::convert::Infallible;

use actix_web::{body::SizedStream, http::header, web, HttpRequest, HttpResponse, Scope};
use bytes::Bytes;
use serde::Serialize;

use super::{
    extract::{Bin, ListParams, RequestId},
    json::{self, BinJson, RequestPieces},
    origin, read, resource,
};
use crate::{
    budget::Reservation,
    clock,
    error::AppError,
    limits,
    settings::Settings,
    state::AppState,
    store::{new_bin_id, BinRecord, Command, Listing, StoredRequest, StoredSettings, BODY_HEAD},
};

/// Body bytes one listing may carry in all: each body is cut at [`BODY_HEAD`], or shorter when
/// a page asks for so many requests that they would carry more.
const LISTING_BODY_BUDGET: usize = 4 * 1024 * 1024;

/// Largest settings object taken by `PUT .../settings`.
const SETTINGS_JSON_LIMIT: usize = 1024 * 1024;

pub(super) fn scope() -> Scope {
    web::scope("/api/v1")
        .service(resource("/bins", "POST").route(web::post().to(create_bin)))
        .service(
            resource("/bins/{bin}", "GET, HEAD, DELETE")
                .route(read().to(get_bin))
                .route(web::delete().to(delete_bin)),
        )
        .service(
            resource("/bins/{bin}/settings", "GET, HEAD, PUT")
                // A 64 KiB response body can take several times that as JSON text.
                .app_data(web::PayloadConfig::new(SETTINGS_JSON_LIMIT))
                .route(read().to(get_settings))
                .route(web::put().to(put_settings)),
        )
        .service(
            resource("/bins/{bin}/requests", "GET, HEAD, DELETE")
                .route(read().to(list_requests))
                .route(web::delete().to(clear_bin)),
        )
        .service(
            resource("/bins/{bin}/requests/{request}", "GET, HEAD, DELETE")
                .route(read().to(get_request))
                .route(web::delete().to(delete_request)),
        )
        .service(
            resource("/bins/{bin}/requests/{request}/raw", "GET, HEAD").route(read().to(raw_body)),
        )
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(AppError::NotFound)
        }))
}

#[derive(Serialize)]
struct Deleted {
    deleted: u64,
}

/// Bytes of each body a listing of `limit` requests carries.
pub(super) fn listing_prefix(limit: u32) -> usize {
    (LISTING_BODY_BUDGET / limit.max(1) as usize).min(BODY_HEAD)
}

/// Creates a bin for the client of `req`, within `--create-limit`, and returns its record.
pub(super) async fn create(req: &HttpRequest, state: &AppState) -> Result<BinRecord, AppError> {
    let client = state.client_ip(req.peer_addr(), req.headers());
    if let (Some(limiter), Some(rate), Some(client)) =
        (&state.limits.create, state.config.create_limit.0, client)
    {
        limiter.check(&limits::client_key(client)).map_err(|wait| {
            tracing::info!(client = %client, "bin creation refused by --create-limit");
            AppError::RateLimited {
                message: format!("this address has created as many bins as it may ({rate})"),
                retry_after: limits::retry_after_secs(wait),
            }
        })?;
    }
    let id = new_bin_id();
    let created_at = clock::now_millis();
    state
        .store
        .writer()
        .run(Command::CreateBin {
            id: id.clone(),
            created_at,
            settings: StoredSettings(Settings::for_new_bin().to_stored()),
        })
        .await?;
    tracing::info!(bin = %id, "bin created");
    state.store.bin(&id).await?.ok_or(AppError::BinNotFound)
}

/// Reads one request with its whole body, within the memory budget for such answers.
pub(super) async fn whole_request(
    req: &HttpRequest,
    state: &AppState,
    bin: &BinRecord,
    id: i64,
) -> Result<(StoredRequest, Reservation), AppError> {
    let size = state
        .store
        .body_size(bin, id)
        .await?
        .ok_or(AppError::RequestNotFound)?;
    let mut reservation = state
        .read_budget
        .reservation(state.client_ip(req.peer_addr(), req.headers()));
    // A body stored under a larger --max-body-bytes than today's may exceed a client's share;
    // it still gets (at most) the share rather than a refusal every time.
    let size = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .min(state.config.body_share());
    reservation.grow(size, state.config.queue_timeout).await?;
    let request = state
        .store
        .request(bin, id)
        .await?
        .ok_or(AppError::RequestNotFound)?;
    Ok((request, reservation))
}

fn json_stream(pieces: impl Iterator<Item = Bytes> + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(futures_util::stream::iter(pieces.map(Ok::<_, Infallible>)))
}

async fn create_bin(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let bin = create(&req, &state).await?;
    let view = BinJson::new(&bin, &origin::base_url(&req, &state), None);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/bins/{}", bin.id)))
        .json(view))
}

async fn get_bin(
    req: HttpRequest,
    Bin(bin): Bin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let drops = state.store.drops(&bin);
    let view = BinJson::new(&bin, &origin::base_url(&req, &state), Some(drops));
    Ok(HttpResponse::Ok().json(view))
}

async fn delete_bin(Bin(bin): Bin, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let deleted = state
        .store
        .writer()
        .run(Command::DeleteBin { id: bin.id })
        .await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}

async fn list_requests(
    Bin(bin): Bin,
    params: ListParams,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let listing = Listing {
        before: params.before,
        event_type: params.event.as_deref(),
        limit: params.limit,
        body_prefix: listing_prefix(params.limit),
    };
    let page = state.store.requests(&bin, &listing).await?;
    Ok(json_stream(json::request_list(
        page.requests,
        page.next_before,
    )))
}

async fn get_settings(Bin(bin): Bin) -> HttpResponse {
    HttpResponse::Ok().json(bin.settings())
}

async fn put_settings(
    Bin(bin): Bin,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let value = serde_json::from_slice(&body)
        .map_err(|err| AppError::BadRequest(format!("the JSON body is not valid: {err}")))?;
    let settings = Settings::from_client(value, &bin.settings())?;
    save_settings(&state, &bin, &settings).await?;
    Ok(HttpResponse::Ok().json(settings))
}

/// Stores a bin's settings through the writer: its next capture is answered by them.
pub(super) async fn save_settings(
    state: &AppState,
    bin: &BinRecord,
    settings: &Settings,
) -> Result<(), AppError> {
    let command = Command::PutSettings {
        bin_id: bin.id.clone(),
        settings: StoredSettings(settings.to_stored()),
    };
    state.store.writer().run(command).await?;
    tracing::info!(bin = %bin.id, "settings changed");
    Ok(())
}

async fn clear_bin(Bin(bin): Bin, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let deleted = state
        .store
        .writer()
        .run(Command::ClearBin { id: bin.id })
        .await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}

async fn get_request(
    req: HttpRequest,
    Bin(bin): Bin,
    RequestId(id): RequestId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (request, reservation) = whole_request(&req, &state, &bin, id).await?;
    Ok(json_stream(RequestPieces::new(request, Some(reservation))))
}

async fn delete_request(
    Bin(bin): Bin,
    RequestId(id): RequestId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let command = Command::DeleteRequest { bin_id: bin.id, id };
    let deleted = state.store.writer().run(command).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted }))
}

/// The body byte for byte, as a download that no browser will run or sniff.
async fn raw_body(
    req: HttpRequest,
    Bin(bin): Bin,
    RequestId(id): RequestId,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (request, reservation) = whole_request(&req, &state, &bin, id).await?;
    let body = Bytes::from(request.body);
    let length = body.len() as u64;
    // The reservation goes with the body, and is given back once the answer is done.
    let stream = futures_util::StreamExt::map(futures_util::stream::iter([body]), move |body| {
        let _held = &reservation;
        Ok::<_, Infallible>(body)
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"request-{}.bin\"", request.id),
        ))
        .body(SizedStream::new(length, Box::pin(stream))))
}
