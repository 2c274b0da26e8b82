//! The processes a data-parallel load is spread over ([`Peers`]): each
//! reads and encodes its own share of the rows, and the decisions that need
//! every row (column types, categories, groups, the split, the means) are
//! made from per-process summaries exchanged in rank order, so that every
//! process makes them alike, and as one process reading every row would.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::distributed::Collective;
use crate::error::{Error, Result};

/// This process and the others of a data-parallel load; alone, every
/// exchange is the identity, so one code path serves both.
///
/// Every member must make the same calls in the same order: a step that
/// fails on one process is agreed on ([`Peers::agree`]) before any process
/// returns, so that none waits forever for the others.
///
/// ```
/// use fairtrain::data::peers::Peers;
/// let alone = Peers::alone();
/// assert_eq!(alone.gather(&vec![1u32, 2]), vec![vec![1, 2]]);
/// let mut counts = [3usize, 4];
/// alone.sum(&mut counts);
/// assert_eq!(counts, [3, 4]);
/// ```
#[derive(Clone, Copy)]
pub struct Peers<'a> {
    group: Option<&'a dyn Collective>,
}

impl std::fmt::Debug for Peers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Peers {{ rank: {}, size: {} }}", self.rank(), self.size())
    }
}

/// An error as it travels between processes.
#[derive(Clone, Serialize, serde::Deserialize)]
enum SharedError {
    Parse { source_name: String, line: u64, message: String },
    Config { field: String, message: String },
    Other(String),
}

impl From<&Error> for SharedError {
    fn from(e: &Error) -> Self {
        match e {
            Error::Parse { source_name, line, message } => {
                SharedError::Parse { source_name: source_name.clone(), line: *line, message: message.clone() }
            }
            Error::Config { field, message } => SharedError::Config { field: field.clone(), message: message.clone() },
            other => SharedError::Other(other.to_string()),
        }
    }
}

impl From<SharedError> for Error {
    fn from(e: SharedError) -> Self {
        match e {
            SharedError::Parse { source_name, line, message } => Error::Parse { source_name, line, message },
            SharedError::Config { field, message } => Error::Config { field, message },
            SharedError::Other(message) => Error::Data(message),
        }
    }
}

impl<'a> Peers<'a> {
    /// A process alone.
    pub fn alone() -> Peers<'static> {
        Peers { group: None }
    }

    /// The members of `group` (a group of one is alone).
    pub fn of(group: &'a dyn Collective) -> Peers<'a> {
        Peers { group: (group.size() > 1).then_some(group) }
    }

    /// This process's index.
    pub fn rank(&self) -> usize {
        self.group.map_or(0, |g| g.rank())
    }

    /// The number of processes.
    pub fn size(&self) -> usize {
        self.group.map_or(1, |g| g.size())
    }

    /// True for a process alone.
    pub fn is_alone(&self) -> bool {
        self.group.is_none()
    }

    /// Every member's `mine`, in rank order.
    pub fn gather<T: Serialize + DeserializeOwned + Clone>(&self, mine: &T) -> Vec<T> {
        let Some(group) = self.group else { return vec![mine.clone()] };
        let bytes = postcard::to_stdvec(mine).expect("a summary serializes");
        group
            .gather(&bytes)
            .iter()
            .map(|b| postcard::from_bytes(b).expect("every member sends the same type"))
            .collect()
    }

    /// Replaces `counts` with their sums over the members (exact).
    pub fn sum(&self, counts: &mut [usize]) {
        if self.group.is_none() {
            return;
        }
        let all = self.gather(&counts.iter().map(|&n| n as u64).collect::<Vec<u64>>());
        for (k, c) in counts.iter_mut().enumerate() {
            *c = all.iter().map(|a| a[k] as usize).sum();
        }
    }

    /// Sets each flag to whether it is true on any member.
    pub fn any(&self, flags: &mut [bool]) {
        if self.group.is_none() {
            return;
        }
        for part in self.gather(&flags.to_vec()) {
            for (f, p) in flags.iter_mut().zip(part) {
                *f |= p;
            }
        }
    }

    /// The members' sizes before this one's and the total: where this
    /// process's `n` items start among everyone's, in rank order.
    pub fn offset(&self, n: usize) -> (usize, usize) {
        let all = self.gather(&(n as u64));
        let before = all[..self.rank()].iter().sum::<u64>() as usize;
        (before, all.iter().sum::<u64>() as usize)
    }

    /// `local` where it is `Ok` on every member; else, on every member, the
    /// error of the lowest-ranked member that failed (the first in row
    /// order when each process holds a later share of the rows).
    pub fn agree<T>(&self, local: Result<T>) -> Result<T> {
        if self.group.is_none() {
            return local;
        }
        let mine: Option<SharedError> = local.as_ref().err().map(SharedError::from);
        let first = self.gather(&mine).into_iter().enumerate().find_map(|(rank, e)| e.map(|e| (rank, e)));
        match first {
            None => local,
            Some((rank, _)) if rank == self.rank() => local,
            Some((_, e)) => Err(e.into()),
        }
    }

    /// Runs `step` on each member in turn, rank 0 first, each starting
    /// from the state the one before left: a fold over the rows in their
    /// order that gives the bits one process folding every row gives (a
    /// sum of floats, say). Every member returns the last state.
    pub fn chain<S: Serialize + DeserializeOwned + Clone>(&self, state: S, step: impl FnOnce(S) -> S) -> S {
        let Some(group) = self.group else { return step(state) };
        let mut state = Some(state);
        let mut step = Some(step);
        for turn in 0..group.size() {
            let mine = if turn == group.rank() {
                let (s, f) = (state.take().expect("a state"), step.take().expect("one step"));
                postcard::to_stdvec(&f(s)).expect("a state serializes")
            } else {
                Vec::new()
            };
            let passed = group.gather(&mine).swap_remove(turn);
            state = Some(postcard::from_bytes(&passed).expect("every member passes the same type"));
        }
        state.expect("a state")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::distributed::ThreadGroup;

    /// Runs `f` on each member of a group of `n` threads.
    pub(crate) fn on_members<T: Send>(n: usize, f: impl Fn(Peers) -> T + Sync) -> Vec<T> {
        let members = ThreadGroup::new(n);
        std::thread::scope(|s| {
            let handles: Vec<_> = members.iter().map(|m| s.spawn(|| f(Peers::of(m)))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn members_gather_sum_and_chain_in_rank_order() {
        let out = on_members(3, |p| {
            let mut counts = [p.rank(), 1];
            p.sum(&mut counts);
            let mut flags = [p.rank() == 1, false];
            p.any(&mut flags);
            let order = p.chain(String::new(), |s| s + &p.rank().to_string());
            (counts, flags, order, p.offset(p.rank() + 1), p.gather(&(p.rank() as u8)))
        });
        for (rank, (counts, flags, order, offset, gathered)) in out.into_iter().enumerate() {
            assert_eq!(counts, [3, 3]);
            assert_eq!(flags, [true, false]);
            assert_eq!(order, "012");
            assert_eq!(offset, ([0, 1, 3][rank], 6));
            assert_eq!(gathered, vec![0, 1, 2]);
        }
    }

    #[test]
    fn members_agree_on_the_first_error() {
        let out = on_members(3, |p| {
            let local: Result<usize> = match p.rank() {
                0 => Ok(0),
                r => Err(Error::Parse { source_name: "t.csv".into(), line: 10 * r as u64, message: "bad".into() }),
            };
            p.agree(local).map_err(|e| e.to_string())
        });
        assert_eq!(out, vec![Err("t.csv, line 10: bad".to_string()); 3]);
        let fine = on_members(2, |p| p.agree(Ok(p.rank())).unwrap());
        assert_eq!(fine, vec![0, 1]);
    }
}
