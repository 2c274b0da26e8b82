//! Data-parallel training: one minibatch spread over several processes.
//!
//! Every process holds the same parameters and draws the same minibatch
//! rows (the samplers are seeded alike); each forwards and back-propagates
//! only its share of the rows. A [`Collective`] then sums, across
//! processes, the *numerators and denominators* of every group statistic
//! before any ratio or gap is formed, and the gradient contributions before
//! any update, so a run on `N` processes computes the constraint values and
//! gradients of one process on the union batch (up to the order of float
//! additions). Averaging per-process constraint values instead, as some
//! references do, biases rate constraints: a group's rate over the union is
//! not the mean of its per-process rates when the group's share differs
//! between processes.
//!
//! [`crate::problem::TabularProblem::with_collective`] makes a problem
//! data-parallel. Implementations: [`ThreadGroup`] (processes simulated by
//! threads, for tests) and, with the `mpi` feature, `mpi::MpiWorld` over
//! the system's MPI library.

#[cfg(feature = "mpi")]
pub mod mpi;

use std::sync::{Arc, Barrier, Mutex};

/// Environment variables the common launchers set in the processes they
/// start (Open MPI, MPICH/Hydra and Slurm's PMI, PMIx).
const LAUNCHER_VARIABLES: [&str; 4] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"];

/// True when this process was started by an MPI launcher (`mpirun`,
/// `mpiexec`, `srun`): its environment carries the launcher's variables.
pub fn launched_by_mpi() -> bool {
    LAUNCHER_VARIABLES.iter().any(|v| std::env::var_os(v).is_some())
}

/// The number of processes the launcher started, where its environment
/// says (Open MPI's `OMPI_COMM_WORLD_SIZE`, PMI's `PMI_SIZE`).
pub fn launched_processes() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"].iter().find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

/// Collective operations over a fixed group of processes. Every member
/// must call the same operations in the same order with buffers of the
/// same length; the results are identical on every member.
pub trait Collective: Send + Sync + std::fmt::Debug {
    /// This member's index, `0..size()`.
    fn rank(&self) -> usize;

    /// Number of members.
    fn size(&self) -> usize;

    /// Replaces `values` with their element-wise sum over all members.
    fn sum(&self, values: &mut [f32]);

    /// Every member's `bytes`, in rank order, on every member (an
    /// all-gather of byte strings of any length). Data-parallel loading
    /// exchanges its per-process summaries through it, so that every
    /// process combines them in the same (rank) order.
    fn gather(&self, bytes: &[u8]) -> Vec<Vec<u8>>;

    /// True on every member when `flag` is true on any of them (the members
    /// agree to stop, say, when one of them was interrupted).
    fn any(&self, flag: bool) -> bool {
        let mut v = [if flag { 1.0 } else { 0.0 }];
        self.sum(&mut v);
        v[0] > 0.0
    }
}

/// A group of members that live in one process, one thread each: the
/// stand-in for separate processes in tests and examples. Sums are taken in
/// member order, so every member gets the same bits.
///
/// ```
/// use fairtrain::distributed::{Collective, ThreadGroup};
///
/// let members = ThreadGroup::new(2);
/// let sums: Vec<Vec<f32>> = std::thread::scope(|s| {
///     let handles: Vec<_> = members
///         .into_iter()
///         .map(|m| {
///             s.spawn(move || {
///                 let mut v = vec![m.rank() as f32 + 1.0, 10.0];
///                 m.sum(&mut v);
///                 v
///             })
///         })
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert_eq!(sums, vec![vec![3.0, 20.0], vec![3.0, 20.0]]);
/// ```
#[derive(Debug, Clone)]
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    barrier: Barrier,
    /// Each member's contribution to the current operation.
    slots: Vec<Mutex<Vec<f32>>>,
    /// Each member's bytes of the current gather.
    byte_slots: Vec<Mutex<Vec<u8>>>,
}

impl ThreadGroup {
    /// The `size` members of a new group (at least one).
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            barrier: Barrier::new(size),
            slots: (0..size).map(|_| Mutex::new(Vec::new())).collect(),
            byte_slots: (0..size).map(|_| Mutex::new(Vec::new())).collect(),
        });
        (0..size).map(|rank| ThreadGroup { rank, shared: shared.clone() }).collect()
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.slots.len()
    }

    fn sum(&self, values: &mut [f32]) {
        {
            let mut mine = lock(&self.shared.slots[self.rank]);
            mine.clear();
            mine.extend_from_slice(values);
        }
        self.shared.barrier.wait();
        values.fill(0.0);
        for slot in &self.shared.slots {
            let theirs = lock(slot);
            assert_eq!(theirs.len(), values.len(), "members of a ThreadGroup summed buffers of different lengths");
            for (v, t) in values.iter_mut().zip(theirs.iter()) {
                *v += t;
            }
        }
        // Nobody overwrites a slot before everyone has read it.
        self.shared.barrier.wait();
    }

    fn gather(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        {
            let mut mine = lock(&self.shared.byte_slots[self.rank]);
            mine.clear();
            mine.extend_from_slice(bytes);
        }
        self.shared.barrier.wait();
        let all = self.shared.byte_slots.iter().map(|slot| lock(slot).clone()).collect();
        self.shared.barrier.wait();
        all
    }
}

/// A slot's lock (a member that panicked holding one left valid data).
fn lock<T>(slot: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_group_sums_and_agrees() {
        let members = ThreadGroup::new(3);
        type Seen = (Vec<f32>, bool, bool, Vec<Vec<u8>>);
        let results: Vec<Seen> = std::thread::scope(|s| {
            let handles: Vec<_> = members
                .into_iter()
                .map(|m| {
                    s.spawn(move || {
                        let mut v = vec![m.rank() as f32, 0.5, -1.0];
                        m.sum(&mut v);
                        let gathered = m.gather(&vec![m.rank() as u8; m.rank()]);
                        (v, m.any(m.rank() == 2), m.any(false), gathered)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (v, any, none, gathered) in results {
            assert_eq!(v, vec![3.0, 1.5, -3.0]);
            assert!(any);
            assert!(!none);
            assert_eq!(gathered, vec![vec![], vec![1], vec![2, 2]]);
        }
    }

    #[test]
    fn a_group_of_one_is_the_identity() {
        let m = ThreadGroup::new(0).pop().unwrap();
        assert_eq!((m.rank(), m.size()), (0, 1));
        let mut v = vec![1.25, -2.0];
        m.sum(&mut v);
        assert_eq!(v, vec![1.25, -2.0]);
        assert_eq!(m.gather(b"x"), vec![b"x".to_vec()]);
    }
}
