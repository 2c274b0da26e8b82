//! [`Collective`] over MPI (the `mpi` feature): the processes `mpirun`
//! (or a cluster's launcher, e.g. `srun`) started.
//!
//! ```no_run
//! use fairtrain::distributed::Collective;
//! use fairtrain::distributed::mpi::MpiSession;
//!
//! let session = MpiSession::start().unwrap();
//! let world = session.world();
//! let mut v = vec![world.rank() as f32];
//! world.sum(&mut v); // 0 + 1 + ... + (size - 1) on every process
//! ```

use std::sync::Mutex;

use mpi::Count;
use mpi::collective::{CommunicatorCollectives, SystemOperation};
use mpi::datatype::PartitionMut;
use mpi::environment::{Threading, Universe};
use mpi::topology::{Communicator, SimpleCommunicator};

use super::Collective;
use crate::error::{Error, Result};

/// MPI, initialized for this process; finalized when dropped. Only the
/// thread that started it calls MPI.
pub struct MpiSession {
    _universe: Universe,
}

impl std::fmt::Debug for MpiSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MpiSession")
    }
}

impl MpiSession {
    /// Initializes MPI (once per process).
    pub fn start() -> Result<MpiSession> {
        match mpi::initialize_with_threading(Threading::Funneled) {
            Some((universe, _)) => Ok(MpiSession { _universe: universe }),
            None => Err(Error::Data("MPI is already initialized in this process".into())),
        }
    }

    /// All processes of the run (`MPI_COMM_WORLD`).
    pub fn world(&self) -> MpiWorld {
        let world = SimpleCommunicator::world();
        MpiWorld { rank: world.rank() as usize, size: world.size() as usize, scratch: Mutex::new(Vec::new()) }
    }

    /// Ends every process of the run with `code` (after an error on one of
    /// them, so the others do not wait for it forever).
    pub fn abort(&self, code: i32) -> ! {
        SimpleCommunicator::world().abort(code)
    }

    /// The MPI library's version string.
    pub fn library_version() -> String {
        mpi::environment::library_version().unwrap_or_else(|_| "unknown MPI library".into())
    }
}

/// The processes of `MPI_COMM_WORLD` as a [`Collective`]. Sums are
/// `MPI_Allreduce` calls, which give every process the same result.
#[derive(Debug)]
pub struct MpiWorld {
    rank: usize,
    size: usize,
    /// The send buffer (MPI sums from one buffer into another); it grows to
    /// the largest sum and is then reused.
    scratch: Mutex<Vec<f32>>,
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn sum(&self, values: &mut [f32]) {
        if self.size == 1 {
            return;
        }
        let mut send = self.scratch.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        send.clear();
        send.extend_from_slice(values);
        // (The handle is a constant: taking it per call keeps this type
        // Send + Sync.)
        SimpleCommunicator::world().all_reduce_into(&send[..], values, SystemOperation::sum());
    }

    fn gather(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        if self.size == 1 {
            return vec![bytes.to_vec()];
        }
        let world = SimpleCommunicator::world();
        let mut counts: Vec<Count> = vec![0; self.size];
        let mine = Count::try_from(bytes.len()).expect("a gathered buffer under 2 GiB");
        world.all_gather_into(&mine, &mut counts[..]);
        let displs: Vec<Count> = counts
            .iter()
            .scan(0, |at: &mut Count, &n| {
                let start = *at;
                *at += n;
                Some(start)
            })
            .collect();
        let total: usize = counts.iter().map(|&n| n as usize).sum();
        let mut all = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut all[..], counts.clone(), &displs[..]);
            world.all_gather_varcount_into(bytes, &mut partition);
        }
        counts.iter().zip(&displs).map(|(&n, &at)| all[at as usize..(at + n) as usize].to_vec()).collect()
    }
}
