//! Recording files on disk: the streaming YAML writer, its sidecar payload
//! files, and the loader.
//!
//! A recording is one YAML file per connection, written as the session goes:
//! the header, then `events:` with one list item appended per event
//! (reaching the file when the writer flushes), then `summary:` when the
//! connection is finalised. Large payloads go to `<name>.c2s.bin` /
//! `<name>.s2c.bin` beside it, and large inflated (permessage-deflate)
//! messages to `<name>.c2s.inflated.bin` / `<name>.s2c.inflated.bin`. A
//! writer killed mid-session leaves a file whose every complete event loads.
//! [`LiveRecording`] is how every producer writes one.

mod emit;
pub mod grow;
pub mod live;
pub mod load;
pub mod writer;

pub use grow::Growing;
pub use live::{LiveRecording, Observer, Recorded};
pub use load::{LoadError, load};
pub use writer::{FileStore, RecordingWriter, recording_file_name};
