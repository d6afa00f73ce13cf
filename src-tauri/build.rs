fn main() {
    // Capabilities live in src-tauri/ (the shell's own files), and the app's
    // one command is declared so that capabilities must grant it explicitly.
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(&["rpc"]));
    // tauri-build does not notice edits under a custom capabilities path.
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    tauri_build::try_build(attributes).expect("tauri-build failed");
}
