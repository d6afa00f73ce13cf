//! How the CLI prints what it reports: JSON for scripts, text for people.

/// Pretty JSON on stdout, one document, newline-terminated.
pub fn print_json(value: &serde_json::Value) {
    // Serialising a Value cannot fail.
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
