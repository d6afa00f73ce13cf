//! The person's settings as the UI and the tray change them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{ApiError, Core};

pub use crate::model::settings::{NOTIFY_SUCCESS, WATCHING_PAUSED};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct Settings {
    pub notify_success: bool,
    pub watching_paused: bool,
}

/// Changes only the settings given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    #[serde(default)]
    #[ts(optional)]
    pub notify_success: Option<bool>,
    #[serde(default)]
    #[ts(optional)]
    pub watching_paused: Option<bool>,
}

/// Reads the settings, after applying what `req` changes.
pub async fn settings(core: &Core, req: SettingsRequest) -> Result<Settings, ApiError> {
    let store = core.store();
    for (key, value) in [
        (NOTIFY_SUCCESS, req.notify_success),
        (WATCHING_PAUSED, req.watching_paused),
    ] {
        if let Some(v) = value {
            store.set_flag(key, v)?;
        }
    }
    Ok(Settings {
        notify_success: store.flag(NOTIFY_SUCCESS),
        watching_paused: store.flag(WATCHING_PAUSED),
    })
}
