//! The `s3` provider (being built).

use crate::deploy::monitor::Failure;
use crate::deploy::provider::{Fut, Job, Provider};

pub struct S3Provider;

impl Provider for S3Provider {
    fn deploy<'a>(&'a self, _job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(async { Err(Failure::of("the s3 provider is not built yet")) })
    }

    fn roll_back<'a>(&'a self, _job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(async { Err("the s3 provider is not built yet".to_string()) })
    }
}
