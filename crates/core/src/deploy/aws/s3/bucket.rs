//! The bucket and distribution calls of a sync, each failure in words that
//! name the call, AWS's error code and message, the bucket and where the
//! calls went (profile, region) — never a credential.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::plan::{Head, Listed, LocalFile};
use crate::deploy::aws::{call, Aws};

/// DeleteObjects takes at most this many keys.
const DELETE_BATCH: usize = 1000;

/// One bucket, under a prefix, with the environment's session.
pub struct Bucket {
    client: aws_sdk_s3::Client,
    pub name: String,
    /// A [`super::plan::folder`].
    pub prefix: String,
    place: String,
}

impl Bucket {
    pub fn new(aws: &Aws, name: &str, prefix: &str) -> Bucket {
        // Path-style: the bucket in the path, as local endpoints (moto,
        // MinIO) need; AWS answers it too.
        let conf = aws_sdk_s3::config::Builder::from(&aws.config("S3"))
            .force_path_style(true)
            .build();
        Bucket {
            client: aws_sdk_s3::Client::from_conf(conf),
            name: name.to_string(),
            prefix: prefix.to_string(),
            place: aws.place(),
        }
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.name, self.prefix)
    }

    fn cannot(&self, what: &str, e: String) -> String {
        format!("cannot {what} ({}): {e}", self.place)
    }

    /// Every object under the prefix.
    pub async fn list(&self) -> Result<Vec<Listed>, String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = call(
                "ListObjectsV2",
                self.client
                    .list_objects_v2()
                    .bucket(&self.name)
                    .prefix(&self.prefix)
                    .set_continuation_token(token.take())
                    .send(),
            )
            .await
            .map_err(|e| self.cannot(&format!("list {}", self.url()), e))?;
            out.extend(page.contents().iter().filter_map(|o| {
                Some(Listed {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().map(str::to_string),
                })
            }));
            match (page.is_truncated(), page.next_continuation_token()) {
                (Some(true), Some(next)) => token = Some(next.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// What an object's metadata says.
    pub async fn head(&self, key: &str) -> Result<Head, String> {
        let out = call(
            "HeadObject",
            self.client.head_object().bucket(&self.name).key(key).send(),
        )
        .await
        .map_err(|e| self.cannot(&format!("read s3://{}/{key}", self.name), e))?;
        Ok(Head {
            sha256: out
                .metadata()
                .and_then(|m| m.get("sha256"))
                .map(|s| s.to_string()),
            content_type: out.content_type().map(str::to_string),
            cache_control: out.cache_control().map(str::to_string),
            etag: out.e_tag().map(str::to_string),
        })
    }

    /// Writes `file` with its headers and its SHA-256 as
    /// `x-amz-meta-sha256`; the new object's ETag.
    pub async fn put(&self, file: &LocalFile) -> Result<Option<String>, String> {
        let o = &file.object;
        let cannot = |e: String| self.cannot(&format!("upload s3://{}/{}", self.name, o.key), e);
        let body = ByteStream::from_path(&file.path)
            .await
            .map_err(|e| cannot(format!("cannot read {}: {e}", file.path.display())))?;
        let out = call(
            "PutObject",
            self.client
                .put_object()
                .bucket(&self.name)
                .key(&o.key)
                .body(body)
                .content_type(&o.content_type)
                .set_cache_control(o.cache_control.clone())
                .metadata("sha256", &o.sha256)
                .send(),
        )
        .await
        .map_err(cannot)?;
        Ok(out.e_tag().map(str::to_string))
    }

    /// Removes `keys`, a thousand a call; a key S3 would not remove fails
    /// it, naming the key.
    pub async fn delete(&self, keys: &[String]) -> Result<(), String> {
        for batch in keys.chunks(DELETE_BATCH) {
            let ids = batch
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| e.to_string())?;
            let what = format!("delete from {}", self.url());
            let out = call(
                "DeleteObjects",
                self.client
                    .delete_objects()
                    .bucket(&self.name)
                    .delete(delete)
                    .send(),
            )
            .await
            .map_err(|e| self.cannot(&what, e))?;
            if let Some(e) = out.errors().first() {
                let more = match out.errors().len() {
                    1 => String::new(),
                    n => format!(" (and {} more keys)", n - 1),
                };
                return Err(self.cannot(
                    &what,
                    format!(
                        "DeleteObjects failed for {}{more}: {}: {}",
                        e.key().unwrap_or("?"),
                        e.code().unwrap_or("?"),
                        e.message().unwrap_or("")
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn cloudfront(aws: &Aws) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&aws.config("CLOUDFRONT"))
}

/// Invalidates `paths` on `distribution`; the invalidation's id.
/// `reference` (the deployment's id) makes a retried call the same one.
pub async fn invalidate(
    aws: &Aws,
    distribution: &str,
    paths: &[String],
    reference: &str,
) -> Result<String, String> {
    use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
    let cannot = |e: String| {
        format!(
            "cannot invalidate {} on CloudFront distribution {distribution} ({}): {e}",
            super::plan::count(paths.len(), "path"),
            aws.place()
        )
    };
    let batch = InvalidationBatch::builder()
        .paths(
            Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.to_vec()))
                .build()
                .map_err(|e| cannot(e.to_string()))?,
        )
        .caller_reference(reference)
        .build()
        .map_err(|e| cannot(e.to_string()))?;
    let out = call(
        "CreateInvalidation",
        cloudfront(aws)
            .create_invalidation()
            .distribution_id(distribution)
            .invalidation_batch(batch)
            .send(),
    )
    .await
    .map_err(cannot)?;
    out.invalidation()
        .map(|i| i.id().to_string())
        .ok_or_else(|| cannot("CreateInvalidation answered without an invalidation".into()))
}

/// An invalidation's status (`InProgress`, `Completed`).
pub async fn invalidation_status(
    aws: &Aws,
    distribution: &str,
    id: &str,
) -> Result<String, String> {
    let out = call(
        "GetInvalidation",
        cloudfront(aws)
            .get_invalidation()
            .distribution_id(distribution)
            .id(id)
            .send(),
    )
    .await?;
    Ok(out
        .invalidation()
        .map(|i| i.status().to_string())
        .unwrap_or_else(|| "unknown".into()))
}
