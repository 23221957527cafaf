//! Printing to stdout without panicking when its reader goes away
//! (`fateflow validate ... | head -3`).

use std::io::Write;

/// Stdout's reader went away: the subcommand stops and `fateflow` exits quietly with
/// status 0, as ripgrep does.
#[derive(Debug, thiserror::Error)]
#[error("standard output closed")]
pub struct OutputClosed;

/// Writes one line to stdout; a closed pipe is [`OutputClosed`].
pub fn line(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{args}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
        written => anyhow::Context::context(written, "writing to standard output"),
    }
}

/// Whether a subcommand stopped because stdout was closed.
pub fn closed(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<OutputClosed>())
}

/// `println!` that returns [`line`]'s result instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
