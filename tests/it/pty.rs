//! A real pseudo-terminal for tests of what a person sees: the child's
//! stdout and stderr are the pty's slave side (so `isatty` is true), and the
//! test reads the master side.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A child running on a pty; what it writes collects in `output`.
pub struct PtyChild {
    pub child: Child,
    /// Everything read from the master so far (the reader thread appends).
    pub output: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// The master, kept open (and unread) when nobody reads it.
    unread: Option<std::fs::File>,
}

fn open_pty() -> (OwnedFd, std::fs::File) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(std::ffi::OsStr::new(&*name.to_string_lossy()))
        .expect("open the pty slave");
    // Raw-ish output: no "\n" → "\r\n" translation, so lines compare as written.
    let mut tio = rustix::termios::tcgetattr(&slave).expect("tcgetattr");
    tio.output_modes.remove(rustix::termios::OutputModes::OPOST);
    rustix::termios::tcsetattr(&slave, rustix::termios::OptionalActions::Now, &tio).expect("tcsetattr");
    (master, slave)
}

impl PtyChild {
    /// Spawns `cmd` with stdout and stderr on a new pty (stdin is null).
    /// With `reading` false nobody reads the master: the terminal "cannot
    /// keep up" once the pty's buffer is full.
    pub fn spawn(cmd: &mut Command, reading: bool) -> PtyChild {
        Self::spawn_with(cmd, reading, true)
    }

    /// [`spawn`](Self::spawn) with only stdout on the pty: stderr is as
    /// `cmd` says (piped, say).
    pub fn spawn_stdout(cmd: &mut Command, reading: bool) -> PtyChild {
        Self::spawn_with(cmd, reading, false)
    }

    fn spawn_with(cmd: &mut Command, reading: bool, stderr_too: bool) -> PtyChild {
        let (master, slave) = open_pty();
        cmd.stdin(Stdio::null()).stdout(Stdio::from(slave.try_clone().unwrap()));
        if stderr_too {
            cmd.stderr(Stdio::from(slave));
        }
        let child = cmd.spawn().expect("spawn on the pty");
        // `cmd` holds its copies of the slave until told otherwise; the
        // master reads EOF only once the child's are the last ones.
        cmd.stdout(Stdio::null());
        if stderr_too {
            cmd.stderr(Stdio::null());
        }
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        let mut master = std::fs::File::from(master);
        if !reading {
            return PtyChild { child, output, reader: None, unread: Some(master) };
        }
        let reader = Some(std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // EIO once every slave descriptor is closed: the child ended.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }));
        PtyChild { child, output, reader, unread: None }
    }

    /// What was read so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits for the child and for the reader to drain the pty.
    pub fn wait(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        self.unread.take();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let text = self.text();
        (status, text)
    }
}

/// A test that fails (panics) before [`PtyChild::wait`] must not leave its
/// child running (a `wstap record` would outlive the test run): kill it.
impl Drop for PtyChild {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to its end on a pty and returns its status and output.
pub fn run(cmd: &mut Command) -> (std::process::ExitStatus, String) {
    PtyChild::spawn(cmd, true).wait()
}
