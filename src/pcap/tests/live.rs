//! Import of captures made by real tools.
