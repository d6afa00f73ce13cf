//! The `s3` provider: a bucket (a static site) synchronised with the
//! revision's files, as `aws s3 sync` would but with what a release needs
//! on top: only what changed goes up (by SHA-256, not by date), each
//! object with its Content-Type and the `cache-control:` rule it matches;
//! pages (HTML) go up after every asset, so no page is served before what
//! it references; `delete: true` then removes what the revision no longer
//! has; `invalidate:` asks CloudFront to drop the changed paths. The
//! deployment records the revision's objects ([`ProviderRecord::S3`]) and
//! its lifecycle events ("Upload 3 objects", "Delete 1 object",
//! "Invalidate 4 paths"), then bakes with the environment's alarms.
//!
//! What changed is decided without reading objects back: an object whose
//! listed ETag an earlier deployment recorded for the same file and
//! headers is unchanged; one of the same size nobody vouches for is asked
//! for its `x-amz-meta-sha256` (written with every upload); anything else
//! goes up. A rollback re-applies the target's kept artifact the same way,
//! and also removes what the undone deployment wrote that the target
//! lacks, so the bucket holds the target's objects again.
//!
//! Strategies do not apply to a bucket: every deployment is one sync.

mod bucket;
mod plan;

use std::collections::{BTreeSet, HashMap};

use futures_util::stream::{self, StreamExt};

use self::bucket::Bucket;
use self::plan::{CacheRules, Drift, Listed, LocalFile, Verdict};
use crate::deploy::aws::{self, Aws};
use crate::deploy::monitor::Failure;
use crate::deploy::provider::{Context, Fut, Job, Provider};
use crate::model::{Fact, Invalidation, ProviderRecord, S3Object, Serving};
use crate::spec::pipeline::{Environment, Provider as Provider_, Strategy};
use crate::store::Deployment;

/// At most this many uploads (or metadata reads) at once.
const CONCURRENCY: usize = 8;
/// How many of an environment's newest deployments' records may vouch for
/// objects the bucket holds.
const RECORDS_CONSULTED: u32 = 10;

/// The `s3` provider behind the provider interface.
pub struct S3Provider;

impl Provider for S3Provider {
    fn describe(&self, _strategy: &Strategy) -> String {
        "sync".into()
    }

    /// Syncs the bucket, invalidates what changed, then bakes.
    fn deploy<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(async move {
            let label = sync(job).await?;
            let bake = job.spec.bake.map(|b| b.as_std()).unwrap_or_default();
            if bake.is_zero() {
                return job.check_stop();
            }
            let started = job.now();
            let result = aws::watch(job, bake).await;
            let event = format!("Bake {}s", bake.as_secs());
            job.event(
                &label,
                &event,
                started,
                &result.clone().map_err(|f| f.message),
            );
            result
        })
    }

    /// Syncs the bucket with the target's kept artifact (no bake).
    fn roll_back<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(async move { sync(job).await.map(|_| ()).map_err(|f| f.message) })
    }

    /// The bucket's objects under the prefix, and whether they are still
    /// the revision the newest successful deployment recorded.
    fn serving<'a>(
        &'a self,
        ctx: &'a Context,
        spec: &'a Environment,
        current: Option<&'a Deployment>,
    ) -> Fut<'a, Option<Serving>> {
        Box::pin(async move {
            let site = Site::of(spec).ok()?;
            Some(read_serving(ctx, spec, &site, current).await)
        })
    }
}

/// An environment's `s3` settings.
struct Site {
    bucket: String,
    /// A [`plan::folder`].
    prefix: String,
    delete: bool,
    cache_control: Vec<(String, String)>,
    invalidate: Option<String>,
}

impl Site {
    fn of(spec: &Environment) -> Result<Site, String> {
        match &spec.provider {
            Provider_::S3 {
                bucket,
                prefix,
                delete,
                cache_control,
                invalidate,
            } => Ok(Site {
                bucket: bucket.clone(),
                prefix: plan::folder(prefix),
                delete: *delete,
                cache_control: cache_control.clone(),
                invalidate: invalidate.clone(),
            }),
            _ => Err(format!("environment `{}` is not an `s3` one", spec.name)),
        }
    }

    /// How events name the place: `www.example.com` or `bucket/prefix/`.
    fn label(&self) -> String {
        format!("{}{}", self.bucket, self.prefix_shown())
    }

    fn prefix_shown(&self) -> String {
        match self.prefix.is_empty() {
            true => String::new(),
            false => format!("/{}", self.prefix),
        }
    }
}

/// The revision's files compared with the bucket.
struct Compared {
    /// Every file; an unchanged one carries the bucket's ETag.
    files: Vec<LocalFile>,
    listed: Vec<Listed>,
    /// Indices into `files` of what goes up.
    upload: Vec<usize>,
}

/// One sync of the bucket with the job's files: compare, upload (pages
/// last), delete, record, invalidate. Returns the events' label.
async fn sync(job: &Job<'_>) -> Result<String, Failure> {
    let site = Site::of(job.spec).map_err(Failure::of)?;
    let label = site.label();
    let dir = job.files().map_err(Failure::of)?;
    let aws = Aws::of(job).await.map_err(aws::failed)?;
    let bucket = Bucket::new(&aws, &site.bucket, &site.prefix);
    let rev = &job.record.revision;
    job.note(&format!(
        "{} {} with revision {} ({})",
        match job.restores {
            Some(_) => "rollback: syncing",
            None => "syncing",
        },
        bucket.url(),
        &rev[..rev.len().min(12)],
        aws.place()
    ));
    job.check_stop()?;

    let started = job.now();
    let compared = compare(job, &bucket, &site, dir).await;
    let event = match &compared {
        Ok(c) => format!(
            "Compare {} with {}",
            plan::count(c.files.len(), "file"),
            plan::count(c.listed.len(), "object")
        ),
        Err(_) => "Compare files with the bucket".into(),
    };
    job.event(&label, &event, started, &unit(&compared));
    let Compared {
        mut files,
        listed,
        upload,
    } = compared.map_err(aws::failed)?;
    job.check_stop()?;

    // Uploads, assets before pages.
    let started = job.now();
    let to_upload: Vec<&LocalFile> = upload.iter().map(|&i| &files[i]).collect();
    let (written, uploaded) = upload_all(job, &bucket, &to_upload).await;
    let event = format!("Upload {}", plan::count(to_upload.len(), "object"));
    job.event(&label, &event, started, &unit(&uploaded));
    let etags: HashMap<String, Option<String>> = written.into_iter().collect();
    for f in files.iter_mut() {
        if let Some(etag) = etags.get(&f.object.key) {
            f.object.etag = etag.clone();
        }
    }
    let mut changed: Vec<String> = etags.keys().cloned().collect();
    changed.sort();
    let made = |removed: &[String], invalidation: Option<Invalidation>| ProviderRecord::S3 {
        bucket: site.bucket.clone(),
        prefix: site.prefix.clone(),
        objects: files.iter().map(|f| f.object.clone()).collect(),
        changed: changed.clone(),
        removed: removed.to_vec(),
        invalidation,
    };
    if let Err(e) = uploaded {
        // What went up so far, for history and a rollback's clean-up.
        job.made(&made(&[], None));
        return Err(match e {
            Upload::Stopped => Failure::stopped(),
            Upload::Failed(e) => aws::failed(e),
        });
    }

    // Deletions.
    let revision: BTreeSet<&str> = files.iter().map(|f| f.object.key.as_str()).collect();
    let also = written_by_undone(job, &site);
    let removed = plan::deletions(&listed, &revision, site.delete, &also);
    let kept = plan::deletions(&listed, &revision, true, &BTreeSet::new()).len() - removed.len();
    if kept > 0 {
        job.note(&format!(
            "{} under the prefix not in the revision stay (`delete: false`)",
            plan::count(kept, "object")
        ));
    }
    if !removed.is_empty() {
        job.check_stop()?;
        let started = job.now();
        let deleted = bucket.delete(&removed).await;
        if deleted.is_ok() {
            for key in &removed {
                job.note(&format!("deleted {key}"));
            }
        }
        let event = format!("Delete {}", plan::count(removed.len(), "object"));
        job.event(&label, &event, started, &deleted);
        if let Err(e) = deleted {
            job.made(&made(&[], None));
            return Err(aws::failed(e));
        }
    }
    job.made(&made(&removed, None));
    job.note(&format!(
        "synced {}: {} written, {} removed, {} unchanged",
        bucket.url(),
        changed.len(),
        removed.len(),
        files.len() - changed.len()
    ));

    // Invalidation of what changed.
    let Some(distribution) = &site.invalidate else {
        return Ok(label);
    };
    let paths = plan::invalidation_paths(changed.iter().chain(&removed).map(String::as_str));
    if paths.is_empty() {
        job.note(&format!(
            "nothing changed: no invalidation on {distribution}"
        ));
        return Ok(label);
    }
    job.check_stop()?;
    let started = job.now();
    let created = bucket::invalidate(&aws, distribution, &paths, &job.record.id).await;
    let event = format!("Invalidate {}", plan::count(paths.len(), "path"));
    job.event(&label, &event, started, &unit(&created));
    let id = created.map_err(aws::failed)?;
    job.note(&format!(
        "invalidation {id} on {distribution}: {}",
        paths.join(" ")
    ));
    job.made(&made(
        &removed,
        Some(Invalidation {
            distribution: distribution.clone(),
            id,
            paths,
        }),
    ));
    Ok(label)
}

/// `Ok(())` or the error, as [`Job::event`] takes it.
fn unit<T, E: ToString>(r: &Result<T, E>) -> Result<(), String> {
    r.as_ref().map(|_| ()).map_err(|e| e.to_string())
}

/// Scans the files, lists the bucket and decides what goes up.
async fn compare(
    job: &Job<'_>,
    bucket: &Bucket,
    site: &Site,
    dir: std::path::PathBuf,
) -> Result<Compared, String> {
    let prefix = site.prefix.clone();
    let rules = site.cache_control.clone();
    // Hashing reads every file: off the runtime's threads.
    let scanned = tokio::task::spawn_blocking(move || {
        let rules = CacheRules::new(&rules)?;
        plan::scan(&dir, &prefix, &rules)
    })
    .await
    .map_err(|e| format!("cannot read the revision's files: {e}"))?;
    let mut files = scanned?;
    let listed = bucket.list().await?;
    let known = plan::known(earlier_objects(job, site).iter());
    let by_key: HashMap<&str, &Listed> = listed.iter().map(|l| (l.key.as_str(), l)).collect();
    let mut upload = Vec::new();
    let mut check = Vec::new();
    for (i, f) in files.iter_mut().enumerate() {
        let key = f.object.key.as_str();
        let vouchers = known.get(key).map(Vec::as_slice).unwrap_or_default();
        match plan::verdict(&f.object, by_key.get(key).copied(), vouchers) {
            Verdict::Unchanged(etag) => f.object.etag = etag,
            Verdict::Upload => upload.push(i),
            Verdict::Check => check.push(i),
        }
    }
    // Objects no record vouches for: their metadata may.
    let heads: Vec<(usize, Result<plan::Head, String>)> = stream::iter(check)
        .map(|i| {
            let key = files[i].object.key.clone();
            async move { (i, bucket.head(&key).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, head) in heads {
        match head {
            Ok(h) if plan::head_matches(&files[i].object, &h) => {
                files[i].object.etag = h
                    .etag
                    .or_else(|| by_key[files[i].object.key.as_str()].etag.clone());
            }
            Ok(_) => upload.push(i),
            Err(e) => {
                job.note(&format!("{e}; uploading it"));
                upload.push(i);
            }
        }
    }
    upload.sort();
    Ok(Compared {
        files,
        listed,
        upload,
    })
}

/// Why the uploads ended early.
enum Upload {
    Stopped,
    Failed(String),
}

impl std::fmt::Display for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upload::Stopped => f.write_str("stopped"),
            Upload::Failed(e) => f.write_str(e),
        }
    }
}

/// Uploads `files` a few at a time, every asset before the first page;
/// the keys written (with their ETags), and how it ended.
async fn upload_all(
    job: &Job<'_>,
    bucket: &Bucket,
    files: &[&LocalFile],
) -> (Vec<(String, Option<String>)>, Result<(), Upload>) {
    let (assets, pages) = plan::phases(files);
    let mut written = Vec::new();
    for phase in [assets, pages] {
        if phase.is_empty() {
            continue;
        }
        if job.check_stop().is_err() {
            return (written, Err(Upload::Stopped));
        }
        // Owned files: a closure over borrowed ones is not `Send` enough
        // for the boxed future (a higher-ranked lifetime).
        let mut puts = stream::iter(phase.into_iter().cloned())
            .map(|f| async move {
                let put = bucket.put(&f).await;
                (f, put)
            })
            .buffer_unordered(CONCURRENCY);
        while let Some((f, put)) = puts.next().await {
            let o = &f.object;
            match put {
                Ok(etag) => {
                    job.note(&format!(
                        "put {} ({}, {}{})",
                        o.key,
                        o.content_type,
                        plan::size(o.size),
                        o.cache_control
                            .as_ref()
                            .map(|c| format!(", Cache-Control: {c}"))
                            .unwrap_or_default()
                    ));
                    written.push((o.key.clone(), etag));
                }
                // Dropping the stream cancels the uploads in flight.
                Err(e) => return (written, Err(Upload::Failed(e))),
            }
        }
    }
    (written, Ok(()))
}

/// The objects the environment's recent deployments recorded for this
/// bucket: what a listed ETag may vouch for.
fn earlier_objects(job: &Job<'_>, site: &Site) -> Vec<S3Object> {
    let store = &job.ctx.store;
    let (pipeline, environment) = (&job.record.pipeline, &job.record.environment);
    let mut ids: Vec<String> = store
        .deployments(Some(environment), Some(pipeline), RECORDS_CONSULTED)
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.id)
        .collect();
    if let Ok(Some(good)) = store.last_good_deployment(pipeline, environment, None) {
        ids.push(good.id);
    }
    ids.retain(|id| *id != job.record.id);
    ids.dedup();
    ids.iter()
        .filter_map(|id| objects_of(job.ctx, id, site))
        .flatten()
        .collect()
}

/// The objects deployment `id` recorded, when it synced this bucket.
fn objects_of(ctx: &Context, id: &str, site: &Site) -> Option<Vec<S3Object>> {
    match ctx.store.deployment(id).ok()??.record? {
        ProviderRecord::S3 {
            bucket, objects, ..
        } if bucket == site.bucket => Some(objects),
        _ => None,
    }
}

/// For a rollback: the keys the deployment it undoes recorded, which go
/// even under `delete: false` when the target lacks them.
fn written_by_undone(job: &Job<'_>, site: &Site) -> BTreeSet<String> {
    if job.restores.is_none() {
        return BTreeSet::new();
    }
    job.record
        .rollback_of
        .as_deref()
        .and_then(|id| objects_of(job.ctx, id, site))
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

/// What the bucket holds, against what `current` recorded.
async fn read_serving(
    ctx: &Context,
    spec: &Environment,
    site: &Site,
    current: Option<&Deployment>,
) -> Serving {
    let read_at = ctx.clock.now();
    let unreadable = |e: String| Serving {
        summary: format!("{}: unknown", site.label()),
        facts: Vec::new(),
        traffic: Vec::new(),
        read_at,
        error: Some(e),
    };
    let aws = match Aws::for_account(
        &ctx.store,
        ctx.clock.as_ref(),
        &crate::creds::Account::of(spec),
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return unreadable(e),
    };
    let bucket = Bucket::new(&aws, &site.bucket, &site.prefix);
    let listed = match bucket.list().await {
        Ok(l) => l,
        Err(e) => return unreadable(e),
    };
    let objects: Vec<&Listed> = listed.iter().filter(|l| !l.key.ends_with('/')).collect();
    let total: u64 = objects.iter().map(|l| l.size).sum();
    let mut summary = format!("{}: {}", site.label(), plan::count(objects.len(), "object"));
    let mut facts = vec![
        Fact {
            label: "bucket".into(),
            value: bucket.url(),
        },
        Fact {
            label: "objects".into(),
            value: format!(
                "{} ({})",
                plan::count(objects.len(), "object"),
                plan::size(total)
            ),
        },
    ];
    let record = current.and_then(|c| ctx.store.deployment(&c.id).ok().flatten()?.record);
    if let (
        Some(c),
        Some(ProviderRecord::S3 {
            objects: recorded,
            invalidation,
            ..
        }),
    ) = (current, record)
    {
        let short = &c.revision[..c.revision.len().min(7)];
        summary.push_str(&format!(", revision {short}"));
        facts.push(Fact {
            label: "revision".into(),
            value: format!("{short} {} (deployment {})", c.message, c.id),
        });
        let drift = Drift::of(&listed, &recorded);
        let differ = drift.changed + drift.missing;
        if differ > 0 {
            summary.push_str(&format!(
                " ({} {} from it)",
                plan::count(differ, "object"),
                if differ == 1 { "differs" } else { "differ" }
            ));
        }
        facts.push(Fact {
            label: "matches the revision".into(),
            value: match differ {
                0 => "yes".into(),
                _ => format!(
                    "no: {} changed, {} missing since deployment {}",
                    drift.changed, drift.missing, c.id
                ),
            },
        });
        if drift.extra > 0 {
            facts.push(Fact {
                label: "not in the revision".into(),
                value: plan::count(drift.extra, "object"),
            });
        }
        if let Some(i) = invalidation {
            let status = bucket::invalidation_status(&aws, &i.distribution, &i.id)
                .await
                .unwrap_or_else(|e| format!("status unreadable: {e}"));
            facts.push(Fact {
                label: "invalidation".into(),
                value: format!(
                    "{} on {}: {status}, {}",
                    i.id,
                    i.distribution,
                    plan::count(i.paths.len(), "path")
                ),
            });
        }
    }
    Serving {
        summary,
        facts,
        traffic: Vec::new(),
        read_at,
        error: None,
    }
}
