//! Alibaba RPC wire layer: error codes and envelope, JSON/XML rendering, typed request parameters.
//!
//! Nothing here does IO. The gateway (`vod-api`) feeds requests in and writes bytes out.

pub mod codes;
pub mod error;
pub mod params;
pub mod render;
pub mod timefmt;

pub use error::ApiError;
pub use params::Params;
pub use render::Format;
