//! The `cloudformation` provider (being built).

use crate::deploy::monitor::Failure;
use crate::deploy::provider::{Fut, Job, Provider};

pub struct CloudFormationProvider;

impl Provider for CloudFormationProvider {
    fn deploy<'a>(&'a self, _job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(async { Err(Failure::of("the cloudformation provider is not built yet")) })
    }

    fn roll_back<'a>(&'a self, _job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(async { Err("the cloudformation provider is not built yet".to_string()) })
    }
}
