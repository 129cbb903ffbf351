//! The RPC gateway: one listener for VOD (2017-03-21) and ICE (2020-11-09) actions.
//!
//! Request path: [`server`] parses the request ([`inbound`]), authenticates it ([`authn`],
//! with replay protection in [`nonce`]), checks RAM policy ([`authz`]), throttles it
//! ([`throttle`]), dispatches to a thin handler in [`actions`], and renders the answer or
//! the Alibaba error envelope (`vod-wire`). Errors become wire codes only in [`error`].

pub mod actions;
pub mod appcache;
pub mod authn;
pub mod authz;
pub mod catalog;
pub mod error;
pub mod inbound;
pub mod nonce;
pub mod request_metrics;
pub mod server;
pub mod state;
pub mod throttle;

pub use server::{Gateway, gateway};
pub use state::{AppState, GatewayConfig};
