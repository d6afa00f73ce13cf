//! The `action_log` command: a page of one action's log, read by the
//! engine's log pages (`engine::log_pages`), off the async threads.

use super::{ActionLogRequest, ActionLogResponse, ApiError, Core};

pub async fn action_log(core: &Core, req: ActionLogRequest) -> Result<ActionLogResponse, ApiError> {
    let store = core.store.clone();
    let data_dir = core.data_dir.clone();
    let page = tokio::task::spawn_blocking(move || {
        crate::engine::log_pages::action_log_page(
            &store,
            &data_dir,
            &req.id,
            req.stage,
            &req.action,
            (req.offset, req.before),
            req.limit,
        )
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    Ok(ActionLogResponse {
        text: page.text,
        offset: page.offset,
        next_offset: page.next_offset,
        size: page.size,
    })
}
