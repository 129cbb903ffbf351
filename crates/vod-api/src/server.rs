//! The request pipeline: request id → parse → action lookup → authenticate → RAM check →
//! throttle → dispatch → render (success or Alibaba error envelope), with metrics and logs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::MethodRouter;
use http::{HeaderName, HeaderValue, StatusCode};
use tower::{Service, ServiceExt};
use vod_core::ids;
use vod_wire::render::{render_error, render_success_with};
use vod_wire::{ApiError, Format, codes};

use crate::actions::{self, Ctx};
use crate::authn::authenticate;
use crate::authz::check_action;
use crate::catalog::Product;
use crate::inbound::Inbound;
use crate::state::AppState;

/// The gateway as one tower service: Alibaba RPC on every path (the SDKs use `/`, but the
/// path must not matter) except the exact paths added with [`Gateway::route`]. No router
/// sits in front of RPC: a request goes straight into the pipeline.
#[derive(Clone)]
pub struct Gateway {
    state: AppState,
    /// Exact paths answered by `routes` instead of RPC (e.g. `/metrics`).
    paths: Arc<[&'static str]>,
    routes: Router,
}

/// The gateway of `state`: RPC on every path.
pub fn gateway(state: AppState) -> Gateway {
    Gateway {
        state,
        paths: Arc::new([]),
        routes: Router::new(),
    }
}

impl Gateway {
    /// Answers `path` (exactly) with `method_router` instead of RPC.
    pub fn route(self, path: &'static str, method_router: MethodRouter) -> Self {
        let mut paths = self.paths.to_vec();
        paths.push(path);
        Self {
            state: self.state,
            paths: paths.into(),
            routes: self.routes.route(path, method_router),
        }
    }
}

impl Service<Request> for Gateway {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.paths.contains(&request.uri().path()) {
            return Box::pin(self.routes.clone().oneshot(request));
        }
        let state = self.state.clone();
        Box::pin(async move { Ok(rpc_entry(state, request).await) })
    }
}

async fn rpc_entry(state: AppState, request: Request) -> Response {
    let started = Instant::now();
    let request_id = ids::request_id();
    let (parts, body) = request.into_parts();
    let limit = state.config().max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let err = ApiError::invalid_because("Body", &format!("The request body exceeds {limit} bytes."));
            return error_response(&err, Format::Json, &request_id, "", Product::Vod);
        }
    };
    let req = Inbound::parse(&parts.method, &parts.uri, parts.headers, &bytes);
    let format = req.format();
    let product_hint = req.version().and_then(Product::from_version).unwrap_or(Product::Vod);
    let outcome = run(&state, &req, &request_id).await;
    let action_label = req.action().unwrap_or("");
    let (response, code) = match outcome {
        Ok((action, body)) => {
            let bytes = render_success_with(action, format, &request_id, body, &actions::xml_items(action));
            (
                respond(StatusCode::OK, format, &request_id, bytes),
                std::borrow::Cow::Borrowed("200"),
            )
        }
        Err(err) => {
            if err.status >= 500 {
                tracing::warn!(request_id, action = %action_label, code = %err.code, "request failed");
            } else {
                tracing::debug!(request_id, action = %action_label, code = %err.code, message = %err.message, "request refused");
            }
            let code = err.code.clone();
            (
                error_response(&err, format, &request_id, req.host(), product_hint),
                code,
            )
        }
    };
    let label = actions::static_name(product_hint, action_label).unwrap_or("unknown");
    state.0.metrics.record(label, code, started.elapsed().as_secs_f64());
    response
}

async fn run(state: &AppState, req: &Inbound, request_id: &str) -> Result<(&'static str, actions::Body), ApiError> {
    let action = req.action().ok_or_else(|| ApiError::missing_common("Action"))?;
    let version = req.version().ok_or_else(|| ApiError::missing_common("Version"))?;
    let product = Product::from_version(version).ok_or_else(|| ApiError::new(codes::INVALID_ACTION_NOT_FOUND))?;
    let action = actions::static_name(product, action).ok_or_else(|| ApiError::new(codes::INVALID_ACTION_NOT_FOUND))?;
    let caller = authenticate(state, req).await?;
    check_action(&caller, product, action)?;
    if !state.0.throttle.allow(product, action, &caller.account_id).await {
        return Err(codes::THROTTLING_USER.into());
    }
    let params = req.business_params();
    let ctx = Ctx {
        state,
        caller: &caller,
        request_id,
        product,
        action,
    };
    let body = actions::dispatch(&ctx, &params).await?;
    Ok((action, body))
}

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-acs-request-id");

fn respond(status: StatusCode, format: Format, request_id: &str, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID_HEADER, v);
    }
    resp
}

fn error_response(err: &ApiError, format: Format, request_id: &str, host: &str, product: Product) -> Response {
    let host_id = if host.is_empty() { "vodstack" } else { host };
    let bytes = render_error(format, err, request_id, host_id, product.ram_prefix());
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond(status, format, request_id, bytes)
}
