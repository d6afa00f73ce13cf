//! TypeScript bindings for the command table, generated from the Rust types
//! with ts-rs. The UI imports `ui/src/lib/bindings.ts`; a test fails when that
//! file differs from what the Rust types generate (run `make bindings`, or the
//! test with `UPDATE_BINDINGS=1`, to regenerate it).

use ts_rs::{TypeVisitor, TS};

use super::{command_signatures, visit_command_types, ApiError, Event, COMMANDS};

/// Collects the declaration of each visited type and, recursively, of the
/// types it mentions, once each, so nothing the UI receives is undeclared.
struct Declarations<'c> {
    cfg: &'c ts_rs::Config,
    /// By type name: the order ts-rs visits dependencies in is not stable
    /// from one compilation to the next, and the file must be.
    decls: std::collections::BTreeMap<String, String>,
}

impl TypeVisitor for Declarations<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Built-in types (strings, numbers, arrays, maps) have no output
        // path and nothing to declare.
        let name = T::name(self.cfg);
        if T::output_path().is_none() || self.decls.contains_key(&name) {
            return;
        }
        self.decls.insert(name, T::decl(self.cfg));
        T::visit_dependencies(self);
    }
}

/// The whole `bindings.ts` file.
pub fn typescript_bindings() -> String {
    // JSON numbers are what both transports send; Slipway's integers
    // (milliseconds, counts, pids) all fit in a double exactly.
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from crates/core/src/api by ts-rs. Do not edit: run `make bindings`.\n\n",
    );
    let mut declarations = Declarations {
        cfg: &cfg,
        decls: Default::default(),
    };
    visit_command_types(&mut declarations);
    declarations.visit::<ApiError>();
    declarations.visit::<Event>();
    for decl in declarations.decls.into_values() {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.push_str(
        "/** Every command: its request and response types. */\nexport type Commands = {\n",
    );
    for (name, req, resp, doc) in command_signatures(&cfg) {
        if !doc.is_empty() {
            out.push_str(&format!("  /** {} */\n", doc.trim()));
        }
        out.push_str(&format!(
            "  {name}: {{ request: {req}; response: {resp} }};\n"
        ));
    }
    out.push_str("};\n\nexport type CommandName = keyof Commands;\n\n");
    out.push_str(&format!(
        "export const COMMAND_NAMES: CommandName[] = [{}];\n",
        COMMANDS
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn bindings_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings.ts")
    }

    /// The UI's copy must be what the Rust types generate today.
    #[test]
    fn ui_bindings_are_fresh() {
        let generated = super::typescript_bindings();
        let path = bindings_file();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run `make bindings` and commit the result",
            path.display()
        );
    }

    #[test]
    fn every_command_is_in_the_commands_map() {
        let generated = super::typescript_bindings();
        for name in super::COMMANDS {
            assert!(
                generated.contains(&format!("  {name}: {{ request: ")),
                "{name}"
            );
        }
    }
}
