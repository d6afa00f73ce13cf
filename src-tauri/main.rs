//! The Slipway desktop app: a window showing the UI, a tray icon, OS
//! notifications, and one IPC command into the core's command table. The
//! shell holds no logic of its own; everything it does is a call into
//! `slipway-core` or a display of the core's events.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod events;
mod ipc;
mod tray;

use std::sync::Arc;

use slipway_core::api::{Core, Host, SystemClock};

fn main() {
    quiet_webview();
    let core = match open_core() {
        Ok(core) => Arc::new(core),
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    };
    let events = core.subscribe();
    let host = core.clone();
    // The engine this app hosts, kept to stop its environments on quit.
    let hosted: Arc<std::sync::Mutex<Option<Arc<slipway_core::api::RunningEngine>>>> =
        Arc::default();
    let hosting = hosted.clone();

    let app = tauri::Builder::default()
        // First, so a second launch is caught before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tray::show_main_window(app, None);
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(core)
        .invoke_handler(tauri::generate_handler![ipc::rpc])
        .on_window_event(|_, event| {
            if let tauri::WindowEvent::Destroyed = event {
                give_back_memory();
            }
        })
        .setup(move |app| {
            tray::build(app.handle())?;
            events::forward(app.handle().clone(), events);
            // The desktop app is the data directory's engine unless another
            // process (serve, watch) already is; then runs go to that one.
            tauri::async_runtime::spawn(async move {
                match host.run_engine().await {
                    // Held for the life of the app: the engine and watcher run.
                    Ok(Some(engine)) => {
                        let engine = Arc::new(engine);
                        *hosting.lock().unwrap_or_else(|p| p.into_inner()) = Some(engine.clone());
                        std::future::pending::<()>().await;
                        drop(engine);
                    }
                    Ok(None) => tracing::info!("another process is the engine; runs go to it"),
                    Err(err) => eprintln!("warning: cannot start the engine: {err}"),
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(move |app, event| match event {
            // The window closed: Slipway keeps running in the tray, watching
            // and deploying, and the window's web processes end (their
            // memory goes back; Open makes a fresh window). "Quit" exits
            // with a code and is not held back.
            tauri::RunEvent::ExitRequested {
                code: None, api, ..
            } if app.tray_by_id(tray::TRAY_ID).is_some() => {
                api.prevent_exit();
            }
            tauri::RunEvent::Exit => {
                // Local environments stop with their engine; the next one
                // brings them back at their last good revision.
                let engine = hosted.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(engine) = engine {
                    tauri::async_runtime::block_on(engine.shut_down());
                }
            }
            _ => {}
        }),
        Err(err) => {
            eprintln!("error: the Slipway window could not start: {err}");
            std::process::exit(1);
        }
    }
}

/// Linux: WebKitGTK's accelerated compositing renders through OpenGL in
/// the web process (Mesa's llvmpipe when there is no GPU driver). Slipway's
/// pages are text, tables and small SVG charts that paint fine without it,
/// and without it the web process idles ~75 MiB smaller (BENCHMARKS.md,
/// "Desktop app"). Someone who wants it back sets the variable to 0.
fn quiet_webview() {
    #[cfg(all(unix, not(target_os = "macos")))]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // Before any thread exists: nothing else reads the environment yet.
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
}

/// The window closed to the tray: its web processes are gone, and what the
/// app's own heap held for it is free but still resident until the
/// allocator returns it. Returns it once the teardown has settled.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(2));
        // SAFETY: malloc_trim only releases free heap pages; it is safe to
        // call at any time from any thread.
        unsafe {
            libc::malloc_trim(0);
        }
    });
}

/// The same data directory as the CLI: `SLIPWAY_HOME`, else the OS default.
fn open_core() -> Result<Core, String> {
    let dir = slipway_core::platform::data_dir(None).map_err(|e| e.to_string())?;
    Core::open(&dir, Host::Desktop, Arc::new(SystemClock)).map_err(|e| e.to_string())
}
