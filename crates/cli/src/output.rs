//! How the CLI prints what it reports: JSON for scripts, text for people.

/// Pretty JSON on stdout, one document, newline-terminated.
pub fn print_json(value: &serde_json::Value) {
    // Serialising a Value cannot fail.
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Reads a command's JSON response as its typed form.
pub fn parse<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, crate::CliError> {
    serde_json::from_value(value)
        .map_err(|e| crate::CliError::Failed(format!("unexpected response from the engine: {e}")))
}

/// A command's one record: its JSON as is with `--json`, else `print`ed
/// from its typed form.
pub fn show<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    json: bool,
    print: impl FnOnce(&T),
) -> Result<(), crate::CliError> {
    if json {
        print_json(&value);
    } else {
        print(&parse(value)?);
    }
    Ok(())
}

/// A commit id as people read it: its first 12 characters.
pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
