//! Event notifications as Alibaba VOD sends them: UserData parsing, the event payloads,
//! the `callback.http` delivery job (signed POST, retries with back-off until a deadline)
//! and the outbound address policy shared with every server-side fetch.
//!
//! * [`userdata`] — `UserData` (MessageCallback override, Extend).
//! * [`events`] — one builder per event type; stable `EventId`.
//! * [`emit`] — event → target → `NewJob` (enqueue it with the state change) / `emit_now`.
//! * [`delivery`] — the [`CallbackHandler`] job handler (register it with the job runtime).
//! * [`outbound`] — [`OutboundPolicy`], [`OutboundClient`], `check_url`.
//! * [`config`] — [`CallbacksConfig`], the `[callbacks]` section.

pub mod config;
pub mod delivery;
pub mod emit;
pub mod events;
pub mod media_events;
pub mod outbound;
pub mod userdata;

pub use config::CallbacksConfig;
pub use delivery::{CallbackHandler, DeliveryPayload, KIND};
pub use emit::{emit_now, plan};
pub use events::{Event, EventError};
pub use media_events::CallbackPlanner;
pub use outbound::{OutboundClient, OutboundError, OutboundPolicy, Timeouts};
pub use userdata::{UserData, UserDataError};
