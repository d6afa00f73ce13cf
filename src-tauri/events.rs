//! Carries the core's event stream to the window (as the `slipway://event`
//! Tauri event, the same `{name, payload}` objects the browser gets over SSE)
//! and shows notifications as OS notifications.

use slipway_core::api::Event;
use tauri::{AppHandle, Emitter};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::{error::RecvError, Receiver};

pub const EVENT_NAME: &str = "slipway://event";

pub fn forward(app: AppHandle, mut events: Receiver<Event>) {
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the window fell behind the event stream");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            if let Err(err) = app.emit(EVENT_NAME, &event) {
                tracing::warn!(%err, "could not deliver an event to the window");
            }
            match &event {
                Event::Notification(n) => {
                    // No notification server (a bare X session) is not an
                    // error worth more than a log line: the window shows it too.
                    if let Err(err) = app
                        .notification()
                        .builder()
                        .title(&n.title)
                        .body(&n.body)
                        .show()
                    {
                        tracing::warn!(%err, "the OS did not show the notification");
                    }
                }
                Event::Execution(_) | Event::Deployment(_) => crate::tray::refresh(&app),
                Event::Log(_) => {}
            }
        }
    });
}
