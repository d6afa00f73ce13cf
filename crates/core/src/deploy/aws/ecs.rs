//! The `ecs` provider (being built).

use crate::deploy::monitor::Failure;
use crate::deploy::provider::{Fut, Job, Provider};

pub struct EcsProvider;

impl Provider for EcsProvider {
    fn deploy<'a>(&'a self, _job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(async { Err(Failure::of("the ecs provider is not built yet")) })
    }

    fn roll_back<'a>(&'a self, _job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(async { Err("the ecs provider is not built yet".to_string()) })
    }
}
