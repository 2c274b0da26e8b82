//! [`SplitRows`]: a split as a run judges models on it, whole on one
//! process, or shared among the processes of a data-parallel run in which
//! each holds only its share of the rows' features.

use std::sync::Arc;

use crate::data::Dataset;
use crate::distributed::Collective;
use crate::error::Result;
use crate::evaluation::GroupFrame;
use crate::model::Mlp;

/// A split's rows as a run judges a model on them: every row's label,
/// group and weight, and the rows' features, all of them, or this
/// process's share of them (rows `first..first + n` of the split) in a
/// data-parallel run over shares. A model's logits are those of every row
/// either way ([`SplitRows::logits`]), so every process computes the same
/// metrics, selection and certificate, and the ones one process computes.
#[derive(Debug, Clone)]
pub struct SplitRows {
    /// Every row: with its features on one process, without them (see
    /// [`Dataset::outcomes_of`]) in a run over shares.
    outcomes: Arc<Dataset>,
    share: Option<FeatureShare>,
}

/// This process's share of a split's features.
#[derive(Debug, Clone)]
pub(crate) struct FeatureShare {
    pub(crate) features: Arc<Dataset>,
    pub(crate) first: usize,
    pub(crate) group: Arc<dyn Collective>,
}

impl SplitRows {
    /// A split held whole.
    pub fn whole(data: Arc<Dataset>) -> SplitRows {
        SplitRows { outcomes: data, share: None }
    }

    /// A split of which this process holds the features of rows
    /// `first..first + features.n_rows()` among `group`'s processes.
    pub(crate) fn shared(outcomes: Arc<Dataset>, share: FeatureShare) -> SplitRows {
        SplitRows { outcomes, share: Some(share) }
    }

    /// Every row's labels, groups and weights (and features, held whole).
    pub fn outcomes(&self) -> &Arc<Dataset> {
        &self.outcomes
    }

    /// The features this process holds and the first row they are, in a
    /// run over shares.
    pub(crate) fn share(&self) -> Option<&FeatureShare> {
        self.share.as_ref()
    }

    /// The model's logit for every row of the split, in order: in a run
    /// over shares, each process forwards its rows and the logits are
    /// gathered.
    pub fn logits(&self, mlp: &Mlp, params: &[f32], threads: usize) -> Vec<f32> {
        let Some(share) = &self.share else { return mlp.logits(params, &self.outcomes, threads) };
        let mine = mlp.logits(params, &share.features, threads);
        let bytes: Vec<u8> = mine.iter().flat_map(|v| v.to_le_bytes()).collect();
        share
            .group
            .gather(&bytes)
            .iter()
            .flat_map(|b| b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))))
            .collect()
    }

    /// The model's per-group counts on the split.
    pub fn frame(&self, mlp: &Mlp, params: &[f32], threads: usize) -> GroupFrame {
        GroupFrame::from_logits(&self.outcomes, &self.logits(mlp, params, threads))
    }

    /// The rows `rows` of the split (increasing), as a split of their own.
    pub fn subset(&self, rows: &[usize]) -> Result<SplitRows> {
        let outcomes = Arc::new(self.outcomes.subset(rows)?);
        let Some(share) = &self.share else { return Ok(SplitRows::whole(outcomes)) };
        let held = share.first..share.first + share.features.n_rows();
        let first = rows.partition_point(|&r| r < held.start);
        let mine: Vec<usize> = rows[first..].iter().take_while(|&&r| r < held.end).map(|&r| r - held.start).collect();
        let features = Arc::new(share.features.subset(&mine)?);
        Ok(SplitRows::shared(outcomes, FeatureShare { features, first, group: share.group.clone() }))
    }
}
