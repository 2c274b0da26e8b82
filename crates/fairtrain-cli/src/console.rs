//! Printing that never panics. `println!` panics when stdout is closed
//! (`fairtrain train ... | head -2`): the command would die half-way,
//! leaving a run folder without its model. These macros drop what cannot
//! be written, so the command finishes and writes its files; its results
//! stay in those files.

/// `println!` to stdout, ignoring a closed or failing stream.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` to stdout, ignoring a closed or failing stream.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!` to stderr, ignoring a closed or failing stream; settings
/// the library names by key are printed as flags ([`with_flags`]).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = writeln!(std::io::stderr().lock(), "{}", $crate::console::with_flags(&text));
    }};
}

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The long flags of every command, set once at start ([`know_flags`]).
static FLAGS: OnceLock<BTreeSet<String>> = OnceLock::new();

/// Records the long flags of `command` and its subcommands, for
/// [`with_flags`].
pub fn know_flags(command: &clap::Command) {
    fn collect(command: &clap::Command, into: &mut BTreeSet<String>) {
        into.extend(command.get_arguments().filter_map(|a| a.get_long()).map(str::to_string));
        for sub in command.get_subcommands() {
            collect(sub, into);
        }
    }
    let mut flags = BTreeSet::new();
    collect(command, &mut flags);
    let _ = FLAGS.set(flags);
}

/// The library names a setting in its messages by its configuration key in
/// backticks, alone or with a value (`` `lr` ``, `` `missing drop` ``,
/// `` `average-penalty=false` ``), as
/// a config file spells it; on the command line that setting is a flag.
/// Rewrites each such span whose key is one of the command's flags to
/// `--key ...`; other backticked text (commands, code) stays.
///
/// ```ignore
/// assert_eq!(with_flags("try a smaller `lr`"), "try a smaller --lr");
/// ```
pub fn with_flags(text: &str) -> Cow<'_, str> {
    let Some(flags) = FLAGS.get() else { return Cow::Borrowed(text) };
    if !text.contains('`') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else { break };
        let span = &rest[open + 1..open + 1 + len];
        let key = span.split([' ', '=']).next().unwrap_or_default();
        out.push_str(&rest[..open]);
        if flags.contains(key) {
            out.push_str("--");
            out.push_str(span);
        } else {
            out.push_str(&rest[open..open + len + 2]);
        }
        rest = &rest[open + len + 2..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_become_flags_and_other_code_stays() {
        let command = clap::Command::new("t").subcommand(
            clap::Command::new("train")
                .arg(clap::Arg::new("lr").long("lr"))
                .arg(clap::Arg::new("missing").long("missing")),
        );
        know_flags(&command);
        assert_eq!(with_flags("try a smaller `lr`"), "try a smaller --lr");
        assert_eq!(with_flags("use `missing drop` to drop them"), "use --missing drop to drop them");
        assert_eq!(with_flags("set `lr=0.1`"), "set --lr=0.1");
        assert_eq!(
            with_flags("run `fairtrain datasets fetch x` or set `dual-lr`"),
            "run `fairtrain datasets fetch x` or set `dual-lr`"
        );
        assert_eq!(with_flags("an odd ` quote"), "an odd ` quote");
        assert_eq!(with_flags("plain"), "plain");
    }
}
