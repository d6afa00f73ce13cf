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
    builder.build(app)?;
    Ok(())
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
