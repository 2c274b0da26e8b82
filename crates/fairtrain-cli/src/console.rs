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

/// `eprintln!` to stderr, ignoring a closed or failing stream.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
