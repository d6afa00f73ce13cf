//! Process groups and stopping them, per platform.
