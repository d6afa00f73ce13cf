//! The buildspec runner (CodeBuild semantics).
