//! The EC2/on-premises appspec: `os`, `files`, `permissions`,
//! `file_exists_behavior` and `hooks`, checked the way the CodeDeploy agent
//! checks them.

use serde::Serialize;

use super::lifecycle::{all_events, hook_events, ComputePlatform};
use super::{Appspec, MAX_HOOK_SECONDS};
use crate::spec::read::{describe, suggest, Fields, KeyPath, Reader};
use crate::spec::yaml::{Node, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Linux,
    Windows,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileMapping {
    /// Relative to the revision's root; `/` means all of it.
    pub source: String,
    /// An absolute path on the instance (the local provider re-roots it).
    pub destination: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FileExistsBehavior {
    /// The deployment fails (the default).
    Disallow,
    Overwrite,
    Retain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    pub object: String,
    /// `**` (everything) when unspecified.
    pub pattern: String,
    pub except: Vec<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Octal digits as written (`755`).
    pub mode: Option<String>,
    pub acls: Vec<String>,
    /// SELinux context: user, type, range.
    pub context: Vec<(String, String)>,
    /// `file` and/or `directory`; both when unspecified.
    pub types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookScript {
    pub location: String,
    /// Seconds; 3600 when unspecified.
    pub timeout: u64,
    pub runas: Option<String>,
    pub sudo: bool,
}

const TOP_KEYS: [&str; 6] = [
    "version",
    "os",
    "files",
    "permissions",
    "hooks",
    "file_exists_behavior",
];

pub(super) fn read(r: &mut Reader, root: &Node, top: &mut Fields<'_>) -> Option<Appspec> {
    let path = KeyPath::root();
    let os = match top.get("os") {
        Some(n) => match r
            .choice(n, &path.key("os"), &["linux", "windows"], "os")
            .as_deref()
        {
            Some("windows") => Some(Os::Windows),
            Some(_) => Some(Os::Linux),
            None => None,
        },
        None => {
            r.error(
                root,
                &path,
                "missing `os`: the CodeDeploy agent requires `os: linux` or `os: windows`",
            );
            None
        }
    };
    let files = top
        .get("files")
        .map(|n| files(r, n, &path.key("files")))
        .unwrap_or_default();
    let permissions = match top.get("permissions") {
        Some(n) => {
            if os == Some(Os::Windows) && !n.is_null() {
                r.error(
                    n,
                    &path.key("permissions"),
                    "permissions are supported only on Linux instances (`os: linux`)",
                );
            }
            permissions(r, n, &path.key("permissions"))
        }
        None => Vec::new(),
    };
    let file_exists_behavior = match top.get("file_exists_behavior") {
        Some(n) => match r
            .choice(
                n,
                &path.key("file_exists_behavior"),
                &["DISALLOW", "OVERWRITE", "RETAIN"],
                "file_exists_behavior",
            )
            .as_deref()
        {
            Some("OVERWRITE") => FileExistsBehavior::Overwrite,
            Some("RETAIN") => FileExistsBehavior::Retain,
            _ => FileExistsBehavior::Disallow,
        },
        None => FileExistsBehavior::Disallow,
    };
    let hooks = top
        .get("hooks")
        .map(|n| hooks(r, n, &path.key("hooks")))
        .unwrap_or_default();
    // The agent reads only the keys it knows and ignores the rest, so other
    // keys pass; but a hook event outside `hooks` (a broken indent) or a
    // misspelt section would be silently dropped, and is reported.
    let events = all_events(ComputePlatform::Server);
    for e in top.rest() {
        let Some(key) = e.key.text() else { continue };
        let bare: String = key.chars().filter(char::is_ascii_alphanumeric).collect();
        let message = if events.contains(&bare.as_str()) {
            format!("`{key}` looks like the lifecycle event `{bare}` outside `hooks`; indent it under `hooks:`")
        } else if let Some(s) = suggest(key, &TOP_KEYS) {
            format!("unknown key `{key}` in an EC2/on-premises appspec; did you mean `{s}`?")
        } else {
            continue;
        };
        r.error(&e.key, &path.key(key), message);
    }
    Some(Appspec::Server {
        os: os?,
        files,
        permissions,
        file_exists_behavior,
        hooks,
    })
}

fn files(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<FileMapping> {
    let mut out = Vec::new();
    for (i, item) in r.sequence(node, path, "file mappings").iter().enumerate() {
        let p = path.index(i);
        let Some(mut f) = r.mapping(item, &p, "a file mapping") else {
            continue;
        };
        let field = |r: &mut Reader, f: &mut Fields<'_>, key: &str| match f.get(key) {
            Some(n) => r.string(n, &p.key(key), "a path"),
            None => {
                r.error(item, &p, format!("missing `{key}` in a file mapping"));
                None
            }
        };
        let source = field(r, &mut f, "source");
        let destination = field(r, &mut f, "destination");
        // `overwrite` appears in many real appspecs (an old tutorial's
        // spelling); the agent reads only source and destination and ignores
        // the rest, so other keys pass unless misspelt.
        r.misspelt_keys(&mut f, &["source", "destination"], "a file mapping");
        if let (Some(source), Some(destination)) = (source, destination) {
            out.push(FileMapping {
                source,
                destination,
            });
        }
    }
    out
}

const PERMISSION_KEYS: [&str; 9] = [
    "object", "pattern", "except", "owner", "group", "mode", "acls", "context", "type",
];

fn permissions(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<Permission> {
    let mut out = Vec::new();
    for (i, item) in r.sequence(node, path, "permissions").iter().enumerate() {
        let p = path.index(i);
        let Some(mut f) = r.mapping(item, &p, "a permission") else {
            continue;
        };
        let object = match f.get("object") {
            Some(n) => r.string(n, &p.key("object"), "a path"),
            None => {
                r.error(
                    item,
                    &p,
                    "missing `object`: a permission needs the path it applies to",
                );
                None
            }
        };
        let mut perm = Permission {
            object: object.unwrap_or_default(),
            pattern: "**".to_string(),
            except: Vec::new(),
            owner: None,
            group: None,
            mode: None,
            acls: Vec::new(),
            context: Vec::new(),
            types: vec!["file".to_string(), "directory".to_string()],
        };
        if let Some(n) = f.get("pattern") {
            if let Some(v) = r.string(n, &p.key("pattern"), "a pattern") {
                perm.pattern = v;
            }
        }
        if let Some(n) = f.get("except") {
            perm.except = r.strings(n, &p.key("except"), "patterns", true);
        }
        if let Some(n) = f.get("owner") {
            perm.owner = r.string(n, &p.key("owner"), "a user name");
        }
        if let Some(n) = f.get("group") {
            perm.group = r.string(n, &p.key("group"), "a group name");
        }
        if let Some(n) = f.get("mode") {
            let mp = p.key("mode");
            if let Some(m) = r.string(n, &mp, "an octal mode") {
                if m.is_empty() || m.len() > 4 || !m.chars().all(|c| ('0'..='7').contains(&c)) {
                    r.error(
                        n,
                        &mp,
                        format!(
                            "mode {} is not an octal permission mode like 755 or 0644",
                            describe(n)
                        ),
                    );
                } else {
                    perm.mode = Some(m);
                }
            }
        }
        if let Some(n) = f.get("acls") {
            perm.acls = r.strings(n, &p.key("acls"), "ACL entries", true);
        }
        if let Some(n) = f.get("context") {
            perm.context = context(r, n, &p.key("context"));
        }
        if let Some(n) = f.get("type") {
            let tp = p.key("type");
            let types = r.strings(n, &tp, "object types", true);
            for t in &types {
                if t != "file" && t != "directory" {
                    r.error(
                        n,
                        &tp,
                        format!(
                            "`{t}` is not a permission object type; expected `file` or `directory`"
                        ),
                    );
                }
            }
            perm.types = types;
        }
        r.misspelt_keys(&mut f, &PERMISSION_KEYS, "a permission");
        out.push(perm);
    }
    out
}

fn hooks(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<(String, Vec<HookScript>)> {
    let Some(mut f) = r.mapping(node, path, "hooks") else {
        return Vec::new();
    };
    let allowed = hook_events(ComputePlatform::Server);
    let every = all_events(ComputePlatform::Server);
    let mut out = Vec::new();
    for e in f.rest() {
        let Some(event) = e.key.text() else { continue };
        let p = path.key(event);
        if !allowed.contains(&event) {
            if every.contains(&event) {
                r.error(&e.key, &p, format!("`{event}` is performed by CodeDeploy itself and runs no scripts; use Before{event} or After{event}"));
                continue;
            }
            // The agent runs hooks by name and accepts custom events; a name
            // one slip away from a real event, though, would silently never
            // run, which is never what the author meant.
            if let Some(s) = suggest(event, &allowed) {
                r.error(
                    &e.key,
                    &p,
                    format!("unknown lifecycle event `{event}`; did you mean `{s}`?"),
                );
                continue;
            }
        }
        let mut scripts = Vec::new();
        for (i, item) in r.sequence(&e.value, &p, "hook scripts").iter().enumerate() {
            if let Some(s) = script(r, item, &p.index(i)) {
                scripts.push(s);
            }
        }
        out.push((event.to_string(), scripts));
    }
    out
}

fn script(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<HookScript> {
    let mut f = r.mapping(node, path, "a hook script")?;
    let location = match f.get("location") {
        Some(n) => r.string(n, &path.key("location"), "a script path"),
        None => {
            r.error(
                node,
                path,
                "missing `location`: every hook script needs the path of the script to run",
            );
            None
        }
    };
    let mut s = HookScript {
        location: location.unwrap_or_default(),
        timeout: MAX_HOOK_SECONDS,
        runas: None,
        sudo: false,
    };
    // The agent accepts any timeout; CodeDeploy still ends a lifecycle
    // event after MAX_HOOK_SECONDS, which the deployer enforces at run time.
    if let Some(n) = f.get("timeout") {
        if let Some(t) = r.integer(
            n,
            &path.key("timeout"),
            1..=u32::MAX as u64,
            "a timeout in seconds",
        ) {
            s.timeout = t;
        }
    }
    // `runas` is documented as Linux-only; on Windows the agent ignores it,
    // so it is accepted (and ignored) there too.
    if let Some(n) = f.get("runas") {
        s.runas = r.string(n, &path.key("runas"), "a user name");
    }
    // `sudo` is read by the agent though undocumented.
    if let Some(n) = f.get("sudo") {
        s.sudo = r.bool(n, &path.key("sudo"), "sudo").unwrap_or(false);
    }
    r.misspelt_keys(&mut f, &["location", "timeout", "runas"], "a hook script");
    if matches!(node.value, Value::Mapping(_)) && s.location.is_empty() {
        return None;
    }
    Some(s)
}

/// An SELinux context as the agent reads it: `type` is required; `name`
/// (documented as `user`) and `range` (a level or `{low, high}`) optional.
fn context(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<(String, String)> {
    let Some(mut f) = r.mapping(node, path, "an SELinux context") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match f.get("type") {
        Some(n) => out.extend(
            r.string(n, &path.key("type"), "an SELinux type")
                .map(|t| ("type".to_string(), t)),
        ),
        None => r.error(
            node,
            path,
            "missing `type`: the CodeDeploy agent requires an SELinux context type",
        ),
    }
    if let Some((k, n)) = f.get_any(&["user", "name"]) {
        out.extend(
            r.string(n, &path.key(k), "an SELinux user")
                .map(|u| ("user".to_string(), u)),
        );
    }
    if let Some(n) = f.get("range") {
        let rp = path.key("range");
        match &n.value {
            Value::Mapping(_) => {
                if let Some(mut g) = r.mapping(n, &rp, "an SELinux range") {
                    for k in ["low", "high"] {
                        if let Some(v) = g.get(k) {
                            out.extend(
                                r.string(v, &rp.key(k), "an SELinux level")
                                    .map(|l| (format!("range.{k}"), l)),
                            );
                        }
                    }
                    r.misspelt_keys(&mut g, &["low", "high"], "an SELinux range");
                }
            }
            _ => out.extend(
                r.string(n, &rp, "an SELinux range")
                    .map(|l| ("range".to_string(), l)),
            ),
        }
    }
    r.misspelt_keys(
        &mut f,
        &["user", "name", "role", "type", "range"],
        "an SELinux context",
    );
    out
}
