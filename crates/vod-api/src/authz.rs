//! Authorization: RAM policies at the action level (`vod:RefreshMediaPlayUrls`) and the
//! multi-app permission of a caller on one app (used for Forbidden ids in batch actions).

use vod_core::model::IdentityType;
use vod_core::model::app::{is_read_action, system_app_policy};
use vod_core::policy::Decision;
use vod_wire::{ApiError, codes};

use crate::authn::{Caller, Principal};
use crate::catalog::{Product, ram_action};
use crate::error::core_to_api;
use crate::state::AppState;

/// Refuses the call with `Forbidden.RAM` when the caller's policy does not allow the action.
pub fn check_action(caller: &Caller, product: Product, action: &str) -> Result<(), ApiError> {
    match &caller.principal {
        Principal::Root => Ok(()),
        Principal::User(user) => {
            if user.policy.allows_action_somewhere(&ram_action(product, action)) {
                Ok(())
            } else {
                Err(codes::FORBIDDEN_RAM.into())
            }
        }
    }
}

/// The ARN of an app, as resource-scoped RAM statements name it.
pub fn app_arn(product: Product, account_id: &str, app_id: &str) -> String {
    format!("acs:{}:*:{account_id}:app/{app_id}", product.ram_prefix())
}

/// Whether the caller may run `action` on resources of `app_id`: the account always may; a
/// RAM user may when its policy allows the action on the app's ARN, or when an app policy
/// is attached to it for that app (read-only policies cover read actions only).
pub async fn can_access_app(
    state: &AppState,
    caller: &Caller,
    product: Product,
    action: &str,
    app_id: &str,
) -> Result<bool, ApiError> {
    let user = match &caller.principal {
        Principal::Root => return Ok(true),
        Principal::User(u) => u,
    };
    match user.policy.evaluate(
        &ram_action(product, action),
        &app_arn(product, &caller.account_id, app_id),
    ) {
        Decision::Allow => return Ok(true),
        Decision::ExplicitDeny => return Ok(false),
        Decision::ImplicitDeny => {}
    }
    let attached = state
        .store()
        .list_app_policies(&caller.account_id, IdentityType::RamUser, &user.name, Some(app_id))
        .await
        .map_err(core_to_api)?;
    Ok(attached
        .iter()
        .filter_map(|a| system_app_policy(&a.policy_name))
        .any(|p| p.allows_write || is_read_action(action)))
}
