//! The tray icon and its menu. Menu items are a typed enum, not loose string
//! ids, so a click can only mean an item that exists.

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

pub const TRAY_ID: &str = "slipway";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrayItem {
    Open,
    Quit,
}

impl TrayItem {
    const ALL: [TrayItem; 2] = [TrayItem::Open, TrayItem::Quit];

    fn id(self) -> &'static str {
        match self {
            TrayItem::Open => "open",
            TrayItem::Quit => "quit",
        }
    }

    fn label(self) -> &'static str {
        match self {
            TrayItem::Open => "Open Slipway",
            TrayItem::Quit => "Quit",
        }
    }

    fn from_id(id: &str) -> Option<TrayItem> {
        Self::ALL.into_iter().find(|item| item.id() == id)
    }
}

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let items = TrayItem::ALL
        .into_iter()
        .map(|item| MenuItem::with_id(app, item.id(), item.label(), true, None::<&str>))
        .collect::<tauri::Result<Vec<_>>>()?;
    let refs: Vec<&dyn tauri::menu::IsMenuItem<tauri::Wry>> = items
        .iter()
        .map(|i| i as &dyn tauri::menu::IsMenuItem<tauri::Wry>)
        .collect();
    let menu = Menu::with_items(app, &refs)?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Slipway")
        .menu(&menu)
        .on_menu_event(|app, event| match TrayItem::from_id(event.id().as_ref()) {
            Some(TrayItem::Open) => show_main_window(app),
            Some(TrayItem::Quit) => app.exit(0),
            None => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    platform::configure(builder).build(app)?;
    Ok(())
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
                    super::show_main_window(tray.app_handle());
                }
            })
    }
}

/// Brings the main window forward: from the tray, and when a second launch
/// of the app hands over to this one.
pub fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::TrayItem;

    #[test]
    fn every_menu_id_maps_back_to_its_item() {
        for item in TrayItem::ALL {
            assert_eq!(TrayItem::from_id(item.id()), Some(item));
        }
        assert_eq!(TrayItem::from_id("nope"), None);
    }
}
