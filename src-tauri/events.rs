//! Carries the core's event stream to the window (as the `slipway://event`
//! Tauri event, the same `{name, payload}` objects the browser gets over SSE)
//! and shows notifications as OS notifications.

use slipway_core::api::Event;
use tauri::{AppHandle, Emitter};
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
                Event::Notification(n) => notify(&app, n),
                Event::Execution(_) | Event::Deployment(_) => crate::tray::refresh(&app),
                Event::Log(_) | Event::Environment(_) => {}
            }
        }
    });
}

/// Shows a notification as an OS notification. On Linux it is raised
/// through notify-rust with a default action, so a click opens the window
/// on what it is about (the notification plugin's desktop path reports no
/// clicks); elsewhere the plugin shows it.
#[cfg(all(unix, not(target_os = "macos")))]
fn notify(app: &AppHandle, n: &slipway_core::api::Notification) {
    let (app, n) = (app.clone(), n.clone());
    // wait_for_action blocks until the notification closes: a thread each.
    std::thread::spawn(move || {
        let mut note = notify_rust::Notification::new();
        note.appname("Slipway")
            .summary(&n.title)
            .body(&n.body)
            .action("default", "Open");
        match note.show() {
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "default" {
                    crate::tray::show_main_window(&app, n.target.as_ref());
                }
            }),
            // No notification server (a bare X session) is not an error
            // worth more than a log line: the window shows it too.
            Err(err) => tracing::warn!(%err, "the OS did not show the notification"),
        }
    });
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn notify(app: &AppHandle, n: &slipway_core::api::Notification) {
    use tauri_plugin_notification::NotificationExt;
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
