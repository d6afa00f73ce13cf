//! Accounts and profiles, the OS keychain, STS sessions (filled in by the credentials work).
