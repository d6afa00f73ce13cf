//! The part of a bucket sync that needs no AWS: the revision's files as
//! objects (key, SHA-256, Content-Type, Cache-Control), which of them the
//! bucket already holds, the order they go up in, what goes away, the
//! CloudFront paths that changed, and how far the bucket has drifted from
//! a recorded revision.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};

use crate::model::S3Object;

/// More changed paths than this are invalidated as one `/*`: CloudFront
/// bills invalidations by path, and a wildcard counts as one.
pub const MAX_PATHS: usize = 100;

/// `prefix` as a folder: no leading `/`, one trailing `/` unless empty, so
/// `site` and `/site/` both put `index.html` at `site/index.html`.
pub fn folder(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    match p.is_empty() {
        true => String::new(),
        false => format!("{p}/"),
    }
}

/// `cache-control:` rules: `(glob, value)` in file order.
pub struct CacheRules {
    set: GlobSet,
    values: Vec<String>,
}

impl CacheRules {
    pub fn new(rules: &[(String, String)]) -> Result<CacheRules, String> {
        let mut b = GlobSetBuilder::new();
        for (glob, _) in rules {
            b.add(
                Glob::new(glob)
                    .map_err(|e| format!("cache-control: `{glob}` is not a glob: {e}"))?,
            );
        }
        Ok(CacheRules {
            set: b.build().map_err(|e| format!("cache-control: {e}"))?,
            values: rules.iter().map(|(_, v)| v.clone()).collect(),
        })
    }

    /// The value of the first rule whose glob matches `path` (relative to
    /// the artifact's root; `*` crosses `/`, so `*.html` is every page).
    pub fn for_path(&self, path: &str) -> Option<&str> {
        self.set
            .matches(path)
            .into_iter()
            .min()
            .map(|i| self.values[i].as_str())
    }
}

/// The Content-Type for `path`, by its extension; text types get
/// `charset=utf-8` when the file is UTF-8 (`utf8`).
pub fn content_type(path: &str, utf8: bool) -> String {
    let base = base_type(path);
    match utf8 && textual(base) {
        true => format!("{base}; charset=utf-8"),
        false => base.to_string(),
    }
}

fn base_type(path: &str) -> &'static str {
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        // mime_guess says text/plain for source maps, and the older
        // application/javascript for modules.
        Some("map") => "application/json",
        Some("mjs") => "text/javascript",
        _ => mime_guess::from_path(path)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

fn textual(base: &str) -> bool {
    base.starts_with("text/")
        || base.ends_with("+json")
        || base.ends_with("+xml")
        || matches!(
            base,
            "application/javascript" | "application/json" | "application/xml"
        )
}

/// Whether an object of this type is a page (uploaded after its assets).
pub fn is_page(content_type: &str) -> bool {
    content_type.starts_with("text/html") || content_type.starts_with("application/xhtml+xml")
}

/// One file of the revision, as the object it becomes.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: PathBuf,
    /// `etag` none: it is filled from the bucket or the upload.
    pub object: S3Object,
}

/// Every file under `root` as an object under `prefix` (a [`folder`]),
/// sorted by key.
pub fn scan(root: &Path, prefix: &str, rules: &CacheRules) -> Result<Vec<LocalFile>, String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let path = entry.path();
            // Follows links: the object is what the link points at.
            let meta = std::fs::metadata(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if meta.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = relative(root, &path)?;
            let (sha256, utf8) = digest(&path, textual(base_type(&rel)))?;
            out.push(LocalFile {
                object: S3Object {
                    key: format!("{prefix}{rel}"),
                    sha256,
                    size: meta.len(),
                    content_type: content_type(&rel, utf8),
                    cache_control: rules.for_path(&rel).map(str::to_string),
                    etag: None,
                },
                path,
            });
        }
    }
    out.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    Ok(out)
}

fn relative(root: &Path, path: &Path) -> Result<String, String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts
        .map(|p| p.join("/"))
        .ok_or_else(|| format!("{}: the file's name is not UTF-8", path.display()))
}

/// The file's SHA-256 (hex) and, when `check_utf8`, whether it is UTF-8.
fn digest(path: &Path, check_utf8: bool) -> Result<(String, bool), String> {
    let fail = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    if check_utf8 {
        let bytes = std::fs::read(path).map_err(fail)?;
        let utf8 = std::str::from_utf8(&bytes).is_ok();
        return Ok((hex(&Sha256::digest(&bytes)), utf8));
    }
    let mut f = std::fs::File::open(path).map_err(fail)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(fail)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok((hex(&hasher.finalize()), false))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An object as ListObjectsV2 gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

/// What the metadata Slipway writes says of an object (HeadObject).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    /// `x-amz-meta-sha256`.
    pub sha256: Option<String>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub etag: Option<String>,
}

/// Whether a file needs uploading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The bucket holds it as it is (its ETag, for the record).
    Unchanged(Option<String>),
    /// The bucket has an object of its size no record vouches for: its
    /// metadata may ([`head_matches`]).
    Check,
    Upload,
}

/// Earlier records' objects, by key: what a listed ETag may vouch for.
pub fn known<'a>(
    objects: impl IntoIterator<Item = &'a S3Object>,
) -> HashMap<String, Vec<S3Object>> {
    let mut map: HashMap<String, Vec<S3Object>> = HashMap::new();
    for o in objects {
        map.entry(o.key.clone()).or_default().push(o.clone());
    }
    map
}

/// `file` against the bucket: unchanged when an earlier record holds the
/// listed ETag for the same content and headers (nobody has written the
/// key since, and it was this file); otherwise checked or uploaded.
pub fn verdict(file: &S3Object, listed: Option<&Listed>, known: &[S3Object]) -> Verdict {
    let Some(listed) = listed.filter(|l| l.size == file.size) else {
        return Verdict::Upload;
    };
    let vouched =
        listed.etag.is_some() && known.iter().any(|k| k.etag == listed.etag && same(k, file));
    match vouched {
        true => Verdict::Unchanged(listed.etag.clone()),
        false => Verdict::Check,
    }
}

fn same(a: &S3Object, b: &S3Object) -> bool {
    a.sha256 == b.sha256 && a.content_type == b.content_type && a.cache_control == b.cache_control
}

/// Whether the object's metadata says it is `file` with its headers.
pub fn head_matches(file: &S3Object, head: &Head) -> bool {
    head.sha256.as_deref() == Some(file.sha256.as_str())
        && head.content_type.as_deref() == Some(file.content_type.as_str())
        && head.cache_control == file.cache_control
}

/// The upload order: assets first, then pages, each by key, so a page
/// never goes up before what it references.
pub fn phases<'a>(files: &[&'a LocalFile]) -> (Vec<&'a LocalFile>, Vec<&'a LocalFile>) {
    let mut sorted = files.to_vec();
    sorted.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    sorted
        .into_iter()
        .partition(|f| !is_page(&f.object.content_type))
}

/// The listed keys to remove: those the revision lacks when `delete`,
/// else only those in `also` (what an undone deployment wrote). Folder
/// markers (`…/`, as the console makes) stay.
pub fn deletions(
    listed: &[Listed],
    revision: &BTreeSet<&str>,
    delete: bool,
    also: &BTreeSet<String>,
) -> Vec<String> {
    let mut keys: Vec<String> = listed
        .iter()
        .map(|l| l.key.as_str())
        .filter(|k| !k.ends_with('/') && !revision.contains(k))
        .filter(|k| delete || also.contains(*k))
        .map(str::to_string)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The CloudFront paths for changed and removed keys, sorted: each key
/// with a leading `/`, URL-encoded; a folder's `index.html` also as the
/// folder (`/`, `/docs/`), which is how it is requested. More than
/// [`MAX_PATHS`] become `/*`.
pub fn invalidation_paths<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut paths = BTreeSet::new();
    for key in keys {
        paths.insert(format!("/{}", encode(key)));
        if key == "index.html" || key.ends_with("/index.html") {
            let dir = &key[..key.len() - "index.html".len()];
            paths.insert(format!("/{}", encode(dir)));
        }
    }
    match paths.len() > MAX_PATHS {
        true => vec!["/*".to_string()],
        false => paths.into_iter().collect(),
    }
}

/// `key` URL-encoded as CloudFront wants an invalidation path: every byte
/// but unreserved characters and `/` as `%XX` (so `*` in a key is no
/// wildcard).
pub fn encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// How the bucket differs from a recorded revision's objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Recorded objects the bucket holds otherwise (another ETag or size).
    pub changed: usize,
    /// Recorded objects the bucket lacks.
    pub missing: usize,
    /// Objects under the prefix the revision does not have.
    pub extra: usize,
}

impl Drift {
    pub fn of(listed: &[Listed], recorded: &[S3Object]) -> Drift {
        let by_key: HashMap<&str, &Listed> = listed.iter().map(|l| (l.key.as_str(), l)).collect();
        let mut d = Drift::default();
        for o in recorded {
            match by_key.get(o.key.as_str()) {
                None => d.missing += 1,
                Some(l) => {
                    let other_etag = o.etag.is_some() && l.etag.is_some() && o.etag != l.etag;
                    if l.size != o.size || other_etag {
                        d.changed += 1;
                    }
                }
            }
        }
        let recorded: BTreeSet<&str> = recorded.iter().map(|o| o.key.as_str()).collect();
        d.extra = listed
            .iter()
            .filter(|l| !l.key.ends_with('/') && !recorded.contains(l.key.as_str()))
            .count();
        d
    }
}

/// `n` `word`s: "1 object", "3 objects".
pub fn count(n: usize, word: &str) -> String {
    match n {
        1 => format!("1 {word}"),
        _ => format!("{n} {word}s"),
    }
}

/// A size in bytes for people: "812 B", "4.2 KB", "1.3 MB".
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, sha: &str, etag: Option<&str>) -> S3Object {
        S3Object {
            key: key.into(),
            sha256: sha.into(),
            size: 10,
            content_type: "text/css; charset=utf-8".into(),
            cache_control: None,
            etag: etag.map(str::to_string),
        }
    }

    fn listed(key: &str, size: u64, etag: &str) -> Listed {
        Listed {
            key: key.into(),
            size,
            etag: Some(etag.into()),
        }
    }

    fn local(key: &str, content_type: &str) -> LocalFile {
        LocalFile {
            path: PathBuf::from(key),
            object: S3Object {
                content_type: content_type.into(),
                ..object(key, "s", None)
            },
        }
    }

    #[test]
    fn a_prefix_is_a_folder() {
        assert_eq!(folder(""), "");
        assert_eq!(folder("/"), "");
        assert_eq!(folder("site"), "site/");
        assert_eq!(folder("/site/v2//"), "site/v2/");
    }

    #[test]
    fn the_first_matching_cache_control_glob_wins() {
        let rules = CacheRules::new(&[
            ("*.html".into(), "no-cache".into()),
            ("assets/**".into(), "max-age=31536000, immutable".into()),
            ("**".into(), "max-age=60".into()),
        ])
        .unwrap();
        assert_eq!(rules.for_path("index.html"), Some("no-cache"));
        // `*` crosses folders: a page under assets/ is still a page.
        assert_eq!(rules.for_path("assets/embed/frame.html"), Some("no-cache"));
        assert_eq!(
            rules.for_path("assets/app.3f2a.js"),
            Some("max-age=31536000, immutable")
        );
        assert_eq!(rules.for_path("robots.txt"), Some("max-age=60"));
        let none = CacheRules::new(&[("assets/**".into(), "immutable".into())]).unwrap();
        assert_eq!(none.for_path("index.html"), None);
        assert!(CacheRules::new(&[("a[".into(), "x".into())]).is_err());
    }

    #[test]
    fn content_types_come_from_the_extension_with_a_charset_for_utf8_text() {
        assert_eq!(content_type("index.html", true), "text/html; charset=utf-8");
        assert_eq!(content_type("a/app.css", true), "text/css; charset=utf-8");
        assert_eq!(
            content_type("app.js", true),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("app.mjs", true),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("app.js.map", true),
            "application/json; charset=utf-8"
        );
        assert_eq!(
            content_type("logo.svg", true),
            "image/svg+xml; charset=utf-8"
        );
        assert_eq!(content_type("LOGO.PNG", true), "image/png");
        assert_eq!(content_type("latin1.txt", false), "text/plain");
        assert_eq!(content_type("LICENSE", true), "application/octet-stream");
        assert!(is_page("text/html; charset=utf-8"));
        assert!(!is_page("text/css"));
    }

    #[test]
    fn scanning_keys_hashes_and_types_every_file_under_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets/img")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<h1>hi</h1>").unwrap();
        std::fs::write(dir.path().join("assets/img/logo.png"), [0x89, b'P', 0xff]).unwrap();
        let rules = CacheRules::new(&[("assets/**".into(), "immutable".into())]).unwrap();
        let files = scan(dir.path(), "site/", &rules).unwrap();
        let keys: Vec<&str> = files.iter().map(|f| f.object.key.as_str()).collect();
        assert_eq!(keys, ["site/assets/img/logo.png", "site/index.html"]);
        assert_eq!(files[0].object.cache_control.as_deref(), Some("immutable"));
        assert_eq!(files[0].object.size, 3);
        assert_eq!(files[1].object.cache_control, None);
        // sha256("<h1>hi</h1>")
        assert_eq!(files[1].object.sha256, hex(&Sha256::digest(b"<h1>hi</h1>")));
        assert_eq!(files[1].object.sha256.len(), 64);
    }

    #[test]
    fn a_listed_etag_an_earlier_record_vouches_for_is_unchanged() {
        let file = object("app.css", "new", None);
        let known = [object("app.css", "new", Some("\"e1\""))];
        assert_eq!(
            verdict(&file, Some(&listed("app.css", 10, "\"e1\"")), &known),
            Verdict::Unchanged(Some("\"e1\"".into()))
        );
        // Someone wrote the key since: another ETag, so look closer.
        assert_eq!(
            verdict(&file, Some(&listed("app.css", 10, "\"e2\"")), &known),
            Verdict::Check
        );
        // The record had other content under that ETag.
        let old = [object("app.css", "old", Some("\"e1\""))];
        assert_eq!(
            verdict(&file, Some(&listed("app.css", 10, "\"e1\"")), &old),
            Verdict::Check
        );
        // Other headers are a change too (a new cache-control rule).
        let mut cached = file.clone();
        cached.cache_control = Some("no-cache".into());
        assert_eq!(
            verdict(&cached, Some(&listed("app.css", 10, "\"e1\"")), &known),
            Verdict::Check
        );
        // Another size, or not there: upload without asking.
        assert_eq!(
            verdict(&file, Some(&listed("app.css", 11, "\"e1\"")), &known),
            Verdict::Upload
        );
        assert_eq!(verdict(&file, None, &known), Verdict::Upload);
    }

    #[test]
    fn metadata_vouches_for_an_object_with_the_same_hash_and_headers() {
        let file = object("app.css", "abc", None);
        let head = Head {
            sha256: Some("abc".into()),
            content_type: Some("text/css; charset=utf-8".into()),
            cache_control: None,
            etag: None,
        };
        assert!(head_matches(&file, &head));
        assert!(!head_matches(
            &file,
            &Head {
                sha256: Some("abd".into()),
                ..head.clone()
            }
        ));
        assert!(!head_matches(
            &file,
            &Head {
                cache_control: Some("no-cache".into()),
                ..head.clone()
            }
        ));
        assert!(!head_matches(&file, &Head::default()));
    }

    #[test]
    fn pages_go_up_after_every_asset() {
        let files = [
            local("index.html", "text/html; charset=utf-8"),
            local("assets/app.js", "text/javascript; charset=utf-8"),
            local("about/index.html", "text/html"),
            local("logo.png", "image/png"),
        ];
        let refs: Vec<&LocalFile> = files.iter().collect();
        let (assets, pages) = phases(&refs);
        let keys = |v: &[&LocalFile]| v.iter().map(|f| f.object.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&assets), ["assets/app.js", "logo.png"]);
        assert_eq!(keys(&pages), ["about/index.html", "index.html"]);
    }

    #[test]
    fn only_keys_the_revision_lacks_are_deleted_and_only_when_asked() {
        let bucket = [
            listed("site/index.html", 1, "a"),
            listed("site/old.html", 1, "b"),
            listed("site/uploads/", 0, "c"),
            listed("site/v2-only.js", 1, "d"),
        ];
        let revision: BTreeSet<&str> = ["site/index.html"].into_iter().collect();
        let none = BTreeSet::new();
        assert_eq!(
            deletions(&bucket, &revision, true, &none),
            ["site/old.html", "site/v2-only.js"]
        );
        assert!(deletions(&bucket, &revision, false, &none).is_empty());
        // A rollback removes what the undone revision wrote, even so.
        let undone: BTreeSet<String> = ["site/v2-only.js".to_string()].into_iter().collect();
        assert_eq!(
            deletions(&bucket, &revision, false, &undone),
            ["site/v2-only.js"]
        );
    }

    #[test]
    fn invalidation_paths_are_rooted_encoded_and_name_folders_of_index_pages() {
        let paths = invalidation_paths([
            "index.html",
            "docs/index.html",
            "assets/hello world.txt",
            "caf\u{e9}/menu*.html",
            "a+b.css",
        ]);
        assert_eq!(
            paths,
            [
                "/",
                "/a%2Bb.css",
                "/assets/hello%20world.txt",
                "/caf%C3%A9/menu%2A.html",
                "/docs/",
                "/docs/index.html",
                "/index.html",
            ]
        );
        let many: Vec<String> = (0..=MAX_PATHS).map(|i| format!("p{i}.js")).collect();
        assert_eq!(invalidation_paths(many.iter().map(String::as_str)), ["/*"]);
        assert!(invalidation_paths(Vec::<&str>::new()).is_empty());
    }

    #[test]
    fn drift_counts_changed_missing_and_extra_objects() {
        let recorded = [
            object("a.css", "x", Some("\"1\"")),
            object("b.css", "x", Some("\"2\"")),
            object("c.css", "x", Some("\"3\"")),
        ];
        let bucket = [
            listed("a.css", 10, "\"1\""),
            listed("b.css", 10, "\"9\""),
            listed("d.css", 10, "\"4\""),
            listed("uploads/", 0, "\"5\""),
        ];
        assert_eq!(
            Drift::of(&bucket, &recorded),
            Drift {
                changed: 1,
                missing: 1,
                extra: 1
            }
        );
        let exact = [listed("a.css", 10, "\"1\"")];
        assert_eq!(Drift::of(&exact, &recorded[..1]), Drift::default());
    }

    #[test]
    fn counts_and_sizes_read_as_words() {
        assert_eq!(count(1, "object"), "1 object");
        assert_eq!(count(0, "object"), "0 objects");
        assert_eq!(count(4, "path"), "4 paths");
        assert_eq!(size(812), "812 B");
        assert_eq!(size(4300), "4.2 KB");
        assert_eq!(size(3 * 1024 * 1024 + 1), "3.0 MB");
    }
}
