//! Deployments: putting a revision on an environment safely, and taking it
//! back in one action, through the environment's provider (`local`,
//! `command`, or an AWS one in [`aws`]), each behind the one interface of
//! [`provider`] (docs/ARCHITECTURE.md, "The core's modules").
//!
//! [`router`] is the `local` provider's per-environment HTTP reverse proxy:
//! it balances over an environment's instances, applies a strategy's weights
//! and counts response statuses for the error-rate alarm. It only moves
//! requests and counts them; deployment records, strategies, health checks
//! and the providers that drive it live beside it, never inside it.

pub mod appspec_run;
pub mod aws;
pub mod cloudwatch;
pub mod command;
pub mod deployer;
pub mod instance;
pub mod local;
pub mod monitor;
pub mod overview;
pub mod provider;
pub mod router;
pub mod strategy;

pub use deployer::{DeployError, DeployOutcome, DeployRequest, Deployer, PreparedRollback};
pub use local::EnvironmentLive;
