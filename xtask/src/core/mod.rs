//! The pure core: version math and renderings, the file editors, the changelog model,
//! conventional commits, the generated changelog, the tag plan, templates, digests and dates.
//!
//! Nothing here touches the world: no process, no network, no filesystem. Everything is a
//! function of its arguments, tested with tables and properties next to the code.

pub mod base64;
pub mod branch;
pub mod changegen;
pub mod changelog;
pub mod clhtml;
pub mod clstyle;
pub mod compose;
pub mod conventional;
pub mod credentials;
pub mod date;
pub mod devpr;
pub mod diff;
pub mod dockertags;
pub mod edit;
pub mod gates;
pub mod gitfmt;
pub mod incident;
pub mod json;
pub mod jsonpath;
pub mod lanes;
pub mod ledger;
pub mod linefile;
pub mod notes;
pub mod placeholder;
pub mod problems;
pub mod pyproject;
pub mod sha1;
pub mod sha256;
pub mod template;
#[cfg(test)]
pub mod testutil;
pub mod tomlpath;
pub mod version;
pub mod versioned;
pub mod yaml;
pub mod yamlpath;
pub mod yank;
