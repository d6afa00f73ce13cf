//! The tray icon and its menu. What they show is the core's
//! [`TrayMenu`](slipway_core::api::tray::TrayMenu) (state, pending
//! approvals, latest executions, "Roll back ENV to REVISION"): the shell
//! renders it, rebuilds it when executions or deployments change, and sends
//! a chosen entry's action back to the core.

use std::sync::{Arc, Mutex};

use slipway_core::api::tray::{TrayAction, TrayMenu, TrayState};
use slipway_core::api::{Core, Event, Notification, NotificationLevel, NotificationTarget};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};

pub const TRAY_ID: &str = "slipway";

/// The window event that asks the UI to show what a [`NotificationTarget`]
/// names (the UI maps it to its route).
pub const OPEN_EVENT: &str = "slipway://open";

/// The menu as last rendered: a click is looked up here by its id, so it
/// can only mean an entry that exists.
#[derive(Default)]
pub struct Shown(Mutex<Option<TrayMenu>>);

fn current_menu(app: &AppHandle) -> TrayMenu {
    let core = app.state::<Arc<Core>>();
    match slipway_core::api::tray::menu(core.store()) {
        Ok(menu) => menu,
        Err(err) => {
            tracing::warn!(%err, "the tray cannot read the records");
            TrayMenu {
                state: TrayState::Idle,
                tooltip: format!("Slipway: {err}"),
                entries: Vec::new(),
            }
        }
    }
}

/// The tray icon for a state: the app's icon, with a coloured dot when
/// something runs (blue), failed (red) or waits for an approval (amber).
fn icon(state: TrayState) -> Option<tauri::image::Image<'static>> {
    let bytes: &'static [u8] = match state {
        TrayState::Idle => include_bytes!("../icons/tray.png"),
        TrayState::Running => include_bytes!("../icons/tray-running.png"),
        TrayState::Failed => include_bytes!("../icons/tray-failed.png"),
        TrayState::ApprovalWaiting => include_bytes!("../icons/tray-approval.png"),
    };
    tauri::image::Image::from_bytes(bytes).ok()
}

fn render(app: &AppHandle, model: &TrayMenu) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    let mut last_group = "";
    for entry in &model.entries {
        let group = entry.id.split(':').next().unwrap_or_default();
        if !last_group.is_empty() && group != last_group && !matches!(group, "quit") {
            menu.append(&PredefinedMenuItem::separator(app)?)?;
        }
        last_group = group;
        menu.append(&MenuItem::with_id(
            app,
            entry.id.as_str(),
            entry.label.as_str(),
            true,
            None::<&str>,
        )?)?;
    }
    Ok(menu)
}

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    app.manage(Shown::default());
    let model = current_menu(app);
    let menu = render(app, &model)?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(&model.tooltip)
        .menu(&menu)
        .on_menu_event(|app, event| choose(app, event.id().as_ref()));
    *app.state::<Shown>()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(model);
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    platform::configure(builder).build(app)?;
    Ok(())
}

/// Re-reads the records and redraws the menu and the tooltip.
pub fn refresh(app: &AppHandle) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let model = current_menu(app);
    match render(app, &model) {
        Ok(menu) => {
            let _ = tray.set_menu(Some(menu));
            let _ = tray.set_tooltip(Some(&model.tooltip));
            let _ = tray.set_icon(icon(model.state));
        }
        Err(err) => tracing::warn!(%err, "the tray menu could not be rebuilt"),
    }
    *app.state::<Shown>()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(model);
}

/// Does what the entry `id` of the shown menu says.
fn choose(app: &AppHandle, id: &str) {
    let action = app
        .state::<Shown>()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|m| m.entries.iter().find(|e| e.id == id))
        .map(|e| e.action.clone());
    match action {
        Some(TrayAction::Open) => show_main_window(app, None),
        Some(TrayAction::Quit) => app.exit(0),
        Some(TrayAction::OpenExecution { id }) => {
            show_main_window(app, Some(&NotificationTarget::Execution { id }));
        }
        Some(TrayAction::PauseWatching) => set_watching_paused(app, true),
        Some(TrayAction::ResumeWatching) => set_watching_paused(app, false),
        Some(TrayAction::Rollback {
            pipeline,
            environment,
            to,
        }) => confirm_rollback(app, pipeline, environment, to),
        None => {}
    }
}

fn set_watching_paused(app: &AppHandle, paused: bool) {
    let core = app.state::<Arc<Core>>().inner().clone();
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(err) = slipway_core::api::tray::set_watching_paused(&core, paused).await {
            tracing::warn!(%err, "could not change watching");
        }
        refresh(&handle);
    });
}

/// A native confirmation, then the rollback in the engine.
fn confirm_rollback(app: &AppHandle, pipeline: String, environment: String, to: String) {
    let label = app
        .state::<Shown>()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|m| m.entries.iter().find(|e| e.id.ends_with(&format!(":{to}"))))
        .map(|e| e.label.clone())
        .unwrap_or_else(|| format!("Roll back {environment}"));
    let handle = app.clone();
    app.dialog()
        .message(format!("{label}?\n\nA new deployment of that revision replaces what {environment} of {pipeline} serves now."))
        .title("Roll back")
        .kind(MessageDialogKind::Warning)
        .buttons(MessageDialogButtons::OkCancelCustom(
            "Roll back".into(),
            "Cancel".into(),
        ))
        .show(move |confirmed| {
            if !confirmed {
                return;
            }
            let core = handle.state::<Arc<Core>>().inner().clone();
            tauri::async_runtime::spawn(async move {
                let target = NotificationTarget::Environment {
                    pipeline: pipeline.clone(),
                    environment: environment.clone(),
                };
                let rollback = slipway_core::api::tray::roll_back(&core, pipeline, environment, to);
                if let Err(err) = rollback.await {
                    let _ = core.event_sender().send(Event::Notification(Notification {
                        title: "Rollback refused".into(),
                        body: err.message,
                        level: NotificationLevel::Failure,
                        target: Some(target),
                    }));
                }
            });
        });
}

/// How each OS's tray is used. Every variant is written; Linux is the one
/// built and tested in CI.
mod platform {
    use tauri::tray::TrayIconBuilder;
    use tauri::Wry;

    /// Linux (AppIndicator): the tray only ever shows its menu; icon clicks
    /// are not delivered, so "Open Slipway" in the menu is the way in.
    #[cfg(all(unix, not(target_os = "macos")))]
    pub fn configure(builder: TrayIconBuilder<Wry>) -> TrayIconBuilder<Wry> {
        builder
    }

    /// macOS: menu-bar items open their menu on a left click, as every
    /// menu-bar app does.
    #[cfg(target_os = "macos")]
    pub fn configure(builder: TrayIconBuilder<Wry>) -> TrayIconBuilder<Wry> {
        builder.show_menu_on_left_click(true)
    }

    /// Windows: a left click on the notification-area icon opens the window;
    /// the menu is on the right click.
    #[cfg(windows)]
    pub fn configure(builder: TrayIconBuilder<Wry>) -> TrayIconBuilder<Wry> {
        use tauri::tray::{MouseButton, MouseButtonState, TrayIconEvent};
        builder
            .show_menu_on_left_click(false)
            .on_tray_icon_event(|tray, event| {
                if let TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    ..
                } = event
                {
                    super::show_main_window(tray.app_handle(), None);
                }
            })
    }
}

/// The UI route that shows `target`, for a window that opens on it (the
/// same mapping as the UI's `targetHref`).
fn route(target: &NotificationTarget) -> String {
    match target {
        NotificationTarget::Execution { id } => format!("#/executions/{id}"),
        NotificationTarget::Environment { .. } => "#/environments".into(),
    }
}

/// Brings the main window forward, showing `target` if given: from the
/// tray, a notification, and a second launch of the app. A window closed to
/// the tray is made anew (its web processes ended when it closed).
pub fn show_main_window(app: &AppHandle, target: Option<&NotificationTarget>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
        if let Some(target) = target {
            let _ = app.emit(OPEN_EVENT, target);
        }
        return;
    }
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == "main") else {
        return;
    };
    let made = tauri::WebviewWindowBuilder::from_config(app, config).and_then(|builder| {
        // A new window cannot hear an event sent before its page loads:
        // it starts on the route instead.
        let builder = match target {
            Some(target) => builder.initialization_script(format!(
                "if (!location.hash) location.hash = {};",
                serde_json::Value::from(route(target))
            )),
            None => builder,
        };
        builder.build()
    });
    if let Err(err) = made {
        tracing::warn!(%err, "could not open the Slipway window");
    }
}
