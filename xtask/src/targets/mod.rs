//! Where a release is published: the Docker registries, the Python package index, GitHub, and
//! the notices sent about it. Each target gathers its facts, then plans build, publish and
//! verify steps; `publish` holds what every target shares.

pub mod docker;
pub mod github;
pub mod notices;
pub mod publish;
pub mod pypi;
