//! The processes of a data-parallel run: `mpirun -np N fairtrain train ...`
//! in a build with the `mpi` feature. Alone (no launcher), nothing changes.

use std::sync::Arc;

use anyhow::{Result, bail};
use fairtrain::distributed::Collective;

/// This process's place in the run.
pub struct Processes {
    /// MPI, while it is initialized (finalized on drop).
    #[cfg(feature = "mpi")]
    session: Option<fairtrain::distributed::mpi::MpiSession>,
    /// The group of a run over more than one process.
    group: Option<Arc<dyn Collective>>,
}

impl Processes {
    /// Joins the launcher's processes, if a launcher started this one.
    pub fn start() -> Result<Processes> {
        #[cfg(feature = "mpi")]
        if fairtrain::distributed::launched_by_mpi() {
            use fairtrain::distributed::mpi::MpiSession;
            let session = MpiSession::start()?;
            let world = session.world();
            let group: Option<Arc<dyn Collective>> = (world.size() > 1).then(|| Arc::new(world) as _);
            return Ok(Processes { session: Some(session), group });
        }
        #[cfg(not(feature = "mpi"))]
        if let Some(n) = fairtrain::distributed::launched_processes().filter(|&n| n > 1) {
            bail!(
                "started as one of {n} MPI processes, but this fairtrain was built without MPI: each process would \
                 train alone. Build it with `cargo build --release --features mpi` (scripts/setup-mpi.sh installs \
                 what that needs), or run without mpirun"
            );
        }
        Ok(Processes {
            #[cfg(feature = "mpi")]
            session: None,
            group: None,
        })
    }

    /// The group of a run over more than one process.
    pub fn group(&self) -> Option<Arc<dyn Collective>> {
        self.group.clone()
    }

    /// An error for commands that do not run data-parallel.
    pub fn only_alone(&self, command: &str) -> Result<()> {
        if let Some(g) = &self.group {
            bail!(
                "`fairtrain {command}` does not run data-parallel (started as one of {} MPI processes); only \
                 `fairtrain train` does. Run it without mpirun",
                g.size()
            );
        }
        Ok(())
    }

    /// Reports an error and ends the run. In a data-parallel run every
    /// process is stopped (MPI_Abort): the others would otherwise wait for
    /// this one's next sum forever.
    pub fn fail(self, message: &str, code: u8) -> std::process::ExitCode {
        match &self.group {
            None => errln!("{message}"),
            Some(g) => {
                errln!("process {} of {}: {message}", g.rank(), g.size());
                #[cfg(feature = "mpi")]
                if let Some(session) = &self.session {
                    session.abort(code as i32);
                }
            }
        }
        std::process::ExitCode::from(code)
    }
}
