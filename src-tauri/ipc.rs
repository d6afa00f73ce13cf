//! The one IPC command: every call from the UI goes through the core's
//! command table by name, exactly as `POST /api/<command>` does over HTTP.

use std::sync::Arc;

use slipway_core::api::{ApiError, Core};

#[tauri::command]
pub async fn rpc(
    core: tauri::State<'_, Arc<Core>>,
    command: String,
    request: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    core.call(&command, request).await
}
