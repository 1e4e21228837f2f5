//! Import of captures built in memory.
