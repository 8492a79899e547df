//! Extractors: the bin named in the path (checked to exist), a request's number, and the
//! listing parameters the API and the inspect page share. Handlers that take them never see a
//! malformed id or an unknown bin.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde::Deserialize;

use crate::{
    error::AppError,
    state::AppState,
    store::{valid_bin_id, BinRecord},
};

/// Requests per page when `limit` is not given, and the most one page may hold.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// The bin named by the `{bin}` path segment, as stored.
pub struct Bin(pub BinRecord);

impl FromRequest for Bin {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Bin, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req.match_info().get("bin").unwrap_or_default().to_owned();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            if !valid_bin_id(&id) {
                return Err(AppError::BinNotFound);
            }
            let state = state.ok_or(AppError::NotFound)?;
            let bin = state.store.bin(&id).await?.ok_or(AppError::BinNotFound)?;
            // A page or API call that names the bin keeps it from --bin-retention.
            state.store.activity().visited(&bin.id);
            Ok(Bin(bin))
        })
    }
}

/// The request number in the `{request}` path segment.
pub struct RequestId(pub i64);

impl FromRequest for RequestId {
    type Error = AppError;
    type Future = std::future::Ready<Result<RequestId, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .match_info()
            .get("request")
            .and_then(|text| text.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(RequestId)
            .ok_or(AppError::RequestNotFound);
        std::future::ready(id)
    }
}

/// `?limit=N&before=ID&event=TYPE`, checked.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub limit: u32,
    pub before: Option<i64>,
    pub event: Option<String>,
}

#[derive(Deserialize)]
struct RawListParams {
    limit: Option<String>,
    before: Option<String>,
    event: Option<String>,
}

impl ListParams {
    /// Parses and checks a query string.
    pub fn parse(query: &str) -> Result<ListParams, AppError> {
        let raw: RawListParams = serde_urlencoded::from_str(query)
            .map_err(|err| AppError::BadRequest(format!("the query string is not valid: {err}")))?;
        let limit = match raw.limit.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
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
        let before = match raw.before.as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                AppError::BadRequest("before must be a request id from next_before".to_owned())
            })?),
        };
        Ok(ListParams {
            limit,
            before,
            event: raw.event.filter(|event| !event.is_empty()),
        })
    }
}

impl FromRequest for ListParams {
    type Error = AppError;
    type Future = std::future::Ready<Result<ListParams, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(ListParams::parse(req.query_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_are_checked_once() {
        let params = ListParams::parse("limit=10&before=42&event=MemberAdded").unwrap();
        assert_eq!(
            (params.limit, params.before, params.event.as_deref()),
            (10, Some(42), Some("MemberAdded"))
        );
        let defaults = ListParams::parse("").unwrap();
        assert_eq!((defaults.limit, defaults.before), (DEFAULT_LIMIT, None));
        for bad in ["limit=0", "limit=501", "before=x", "limit=1&limit=2"] {
            assert!(
                matches!(ListParams::parse(bad), Err(AppError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
