//! Deployments: putting a revision on an environment safely, and taking it
//! back in one action (issue 6; ../shared/ARCHITECTURE.md, "Deploy
//! providers").
//!
//! So far this holds the `local` provider's traffic [`router`]: the
//! per-environment HTTP reverse proxy that balances over an environment's
//! instances, applies a strategy's weights and counts response statuses for
//! the error-rate alarm. Deployment records, strategies, health checks and
//! the providers that drive the router live beside it, never inside it: the
//! router only moves requests and counts them.

pub mod appspec_run;
pub mod instance;
pub mod router;
