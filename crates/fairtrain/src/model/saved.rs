//! A trained model on disk, with everything needed to score new data the
//! way the training data was scored: `model.safetensors` holds the weights
//! (`layers.K.weight`, shape `[inputs, outputs]`, input-major as fairtrain
//! stores them, and `layers.K.bias`); `model.json` holds the architecture,
//! the preprocessing (numeric means and standard deviations, categories of
//! each one-hot block), the label and the groups.
//!
//! Scoring a table applies the same preprocessing by column name. A
//! category the training data did not have gets no input (all of its
//! block's one-hot inputs are 0, as during training for test rows) and is
//! counted; a missing value is an error naming the line and column.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use super::Mlp;
use super::decision::GroupThresholds;
use crate::data::table::{RawColumn, RawTable};
use crate::data::{CategoricalFeature, Dataset, FeatureLayout, GroupColumn, NO_INPUT};
use crate::error::{Error, Result};

/// The weights file's name.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The description file's name.
pub const CARD_FILE: &str = "model.json";
/// The format of `model.json` (2: with `checksum`; 1 is still read).
pub const FORMAT: u32 = 2;

/// A numeric input: `(value - mean) / std`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericInput {
    /// Column name.
    pub name: String,
    /// Training mean.
    pub mean: f64,
    /// Training standard deviation.
    pub std: f64,
}

/// A categorical column's one-hot block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalInput {
    /// Column name.
    pub name: String,
    /// Categories seen in training, in input order.
    pub categories: Vec<String>,
}

/// `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// [`FORMAT`].
    pub format: u32,
    /// The fairtrain version that saved it.
    pub fairtrain_version: String,
    /// Number of model inputs.
    pub inputs: usize,
    /// Hidden layer widths (ReLU), then one logit.
    pub hidden: Vec<usize>,
    /// How the weights are laid out in `model.safetensors`.
    pub weights: String,
    /// Numeric inputs first, then the one-hot blocks, in input order.
    pub numeric: Vec<NumericInput>,
    /// The one-hot blocks, in input order.
    pub categorical: Vec<CategoricalInput>,
    /// Policies applied when scoring new data.
    pub unseen_categories: String,
    /// The policy for missing values.
    pub missing_values: String,
    /// The label column and its positive value.
    pub label: String,
    /// The positive label value.
    pub positive: String,
    /// The sensitive columns and the groups the model was trained on.
    pub group_columns: Vec<String>,
    /// The group names.
    pub groups: Vec<String>,
    /// The training data's name.
    pub dataset: String,
    /// How the groups were formed from the sensitive columns (bands of a
    /// numeric column, one value against the rest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_spec: Vec<GroupColumn>,
    /// Per-group decisions replacing "logit above 0" (post-processing);
    /// scoring then needs the sensitive columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions: Option<GroupThresholds>,
    /// SHA-256 (hex) of this description (with this field empty) followed
    /// by the bytes of `model.safetensors`: a damaged file, or two files of
    /// different runs, are refused when the model is loaded, and the
    /// weights file stays a standard safetensors file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub checksum: String,
}

impl ModelCard {
    /// The checksum of this description (its `checksum` field aside) and
    /// the weights file's bytes.
    fn checksum_of(&self, weights: &[u8]) -> Result<String> {
        let unsigned = ModelCard { checksum: String::new(), ..self.clone() };
        let mut bytes =
            serde_json::to_vec(&unsigned).map_err(|e| Error::Data(format!("cannot encode {CARD_FILE}: {e}")))?;
        bytes.extend_from_slice(weights);
        Ok(crate::data::cache::sha256_hex(&bytes))
    }
}

/// A loaded model.
#[derive(Debug, Clone)]
pub struct SavedModel {
    /// The description.
    pub card: ModelCard,
    /// The architecture.
    pub mlp: Mlp,
    /// The weights, in fairtrain's flat layout.
    pub params: Vec<f32>,
}

/// What training produced, for [`save`].
pub struct ModelInfo<'a> {
    /// The feature layout of the training data.
    pub layout: &'a FeatureLayout,
    /// The label column.
    pub label: &'a str,
    /// Its positive value.
    pub positive: &'a str,
    /// The sensitive columns.
    pub group_columns: &'a [String],
    /// The group names.
    pub groups: &'a [String],
    /// The training data's name.
    pub dataset: &'a str,
    /// How the groups were formed.
    pub group_spec: &'a [GroupColumn],
    /// Per-group decisions, if post-processed.
    pub decisions: Option<&'a GroupThresholds>,
}

/// Writes `model.safetensors` and `model.json` into `dir` (each atomically).
pub fn save(dir: &Path, mlp: &Mlp, params: &[f32], info: &ModelInfo) -> Result<()> {
    let mut tensors: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
    for (k, layer) in mlp.layers().iter().enumerate() {
        let weights = &params[layer.w..layer.w + layer.n_in * layer.n_out];
        let bias = &params[layer.b..layer.b + layer.n_out];
        tensors.push((format!("layers.{k}.weight"), le_bytes(weights), vec![layer.n_in, layer.n_out]));
        tensors.push((format!("layers.{k}.bias"), le_bytes(bias), vec![layer.n_out]));
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, bytes, shape)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::Data(format!("cannot store tensor {name}: {e}")))
        })
        .collect::<Result<_>>()?;
    let metadata = HashMap::from([("format".to_string(), "fairtrain".to_string())]);
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Data(format!("cannot encode {WEIGHTS_FILE}: {e}")))?;
    write_atomic(dir, WEIGHTS_FILE, &bytes)?;

    let layout = info.layout;
    let card = ModelCard {
        format: FORMAT,
        fairtrain_version: env!("CARGO_PKG_VERSION").to_string(),
        inputs: mlp.n_inputs(),
        hidden: mlp.hidden().to_vec(),
        weights: "layers.K.weight: [inputs, outputs] (input-major), layers.K.bias: [outputs]; ReLU between \
                  layers, one output logit; score = sigmoid(logit)"
            .into(),
        numeric: layout
            .numeric
            .iter()
            .zip(&layout.means)
            .zip(&layout.stds)
            .map(|((name, &mean), &std)| NumericInput { name: name.clone(), mean, std })
            .collect(),
        categorical: layout
            .categorical
            .iter()
            .map(|c| CategoricalInput { name: c.name.clone(), categories: c.categories.clone() })
            .collect(),
        unseen_categories: "a category absent from training gets no input (its one-hot block is all 0)".into(),
        missing_values: "an error naming the line and column".into(),
        label: info.label.to_string(),
        positive: info.positive.to_string(),
        group_columns: info.group_columns.to_vec(),
        groups: info.groups.to_vec(),
        dataset: info.dataset.to_string(),
        group_spec: info.group_spec.to_vec(),
        decisions: info.decisions.cloned(),
        checksum: String::new(),
    };
    let card = ModelCard { checksum: card.checksum_of(&bytes)?, ..card };
    let json = serde_json::to_vec_pretty(&card).map_err(|e| Error::Data(format!("cannot encode {CARD_FILE}: {e}")))?;
    write_atomic(dir, CARD_FILE, &json)
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let target = dir.join(name);
    let temp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temp, bytes).map_err(|e| Error::io(&temp, e))?;
    std::fs::rename(&temp, &target).map_err(|e| Error::io(&target, e))
}

/// Reads a model saved by [`save`] from `dir`.
pub fn load(dir: &Path) -> Result<SavedModel> {
    Ok(read_files(dir)?.0)
}

/// Reads a model saved by [`save`] from `dir`, with its two files'
/// contents (`model.json`'s text, `model.safetensors`' bytes) as read, for
/// callers that keep them (a pickled Python estimator).
pub fn read_files(dir: &Path) -> Result<(SavedModel, String, Vec<u8>)> {
    let card_path = dir.join(CARD_FILE);
    let text = std::fs::read_to_string(&card_path).map_err(|e| Error::io(&card_path, e))?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
    let model = from_bytes(&text, &bytes, &card_path.display().to_string(), &weights_path.display().to_string())?;
    Ok((model, text, bytes))
}

/// A model from the contents of its two files (`model.json`'s text and
/// `model.safetensors`' bytes), e.g. kept in memory by a pickled estimator;
/// `card_name` and `weights_name` name them in messages. Checked as
/// [`load`] checks the files.
pub fn from_bytes(text: &str, bytes: &[u8], card_name: &str, weights_name: &str) -> Result<SavedModel> {
    let card: ModelCard = serde_json::from_str(text)
        .map_err(|e| Error::Data(format!("{card_name}: not a fairtrain model description ({e})")))?;
    if !(1..=FORMAT).contains(&card.format) {
        return Err(Error::Data(format!("{card_name}: format {} (this fairtrain reads 1 to {FORMAT})", card.format)));
    }
    // Format 1 predates the checksum.
    if card.format >= 2 && card.checksum != card.checksum_of(bytes)? {
        return Err(Error::Data(format!(
            "{card_name} and {weights_name}: the checksum in {CARD_FILE} does not match (a file is damaged, or they \
             are of different runs)"
        )));
    }
    let mlp = Mlp::new(card.inputs, &card.hidden)?;
    let tensors = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Data(format!("{weights_name}: not a safetensors file ({e})")))?;
    let mut params = vec![0.0f32; mlp.n_params()];
    for (k, layer) in mlp.layers().iter().enumerate() {
        for (name, offset, shape) in [
            (format!("layers.{k}.weight"), layer.w, vec![layer.n_in, layer.n_out]),
            (format!("layers.{k}.bias"), layer.b, vec![layer.n_out]),
        ] {
            let t = tensors.tensor(&name).map_err(|e| Error::Data(format!("{weights_name}: tensor {name}: {e}")))?;
            if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
                return Err(Error::Data(format!(
                    "{weights_name}: tensor {name} is {:?} {:?}, the architecture in {CARD_FILE} needs F32 {shape:?}",
                    t.dtype(),
                    t.shape()
                )));
            }
            for (p, chunk) in params[offset..].iter_mut().zip(t.data().chunks_exact(4)) {
                *p = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
        }
    }
    if let Some(p) = params.iter().find(|p| !p.is_finite()) {
        return Err(Error::Data(format!("{weights_name}: a weight is {p}")));
    }
    Ok(SavedModel { card, mlp, params })
}

impl SavedModel {
    /// The feature layout the model reads.
    pub fn layout(&self) -> FeatureLayout {
        let mut offset = self.card.numeric.len() as u32;
        let categorical = self
            .card
            .categorical
            .iter()
            .map(|c| {
                let f = CategoricalFeature { name: c.name.clone(), categories: c.categories.clone(), offset };
                offset += c.categories.len() as u32;
                f
            })
            .collect();
        FeatureLayout {
            numeric: self.card.numeric.iter().map(|n| n.name.clone()).collect(),
            means: self.card.numeric.iter().map(|n| n.mean).collect(),
            stds: self.card.numeric.iter().map(|n| n.std).collect(),
            categorical,
        }
    }

    /// The group of every row of `table`, from its sensitive columns as the
    /// training data formed them; an error naming the file, line and
    /// column for a missing column or value, or a group training never saw.
    pub fn groups_of(&self, table: &RawTable) -> Result<Vec<u32>> {
        let card = &self.card;
        let spec: Vec<GroupColumn> = if card.group_spec.is_empty() {
            card.group_columns.iter().map(|g| GroupColumn::parse(g)).collect::<Result<_>>()?
        } else {
            card.group_spec.clone()
        };
        let columns: Vec<usize> = spec
            .iter()
            .map(|g| {
                table.names.iter().position(|n| *n == g.name).ok_or_else(|| {
                    Error::Data(format!(
                        "{} has no column '{}': this model decides per group (post-processed), so it needs the \
                         sensitive column(s) {}",
                        table.source,
                        g.name,
                        spec.iter().map(|g| format!("'{}'", g.name)).collect::<Vec<_>>().join(", ")
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let bands: Vec<Vec<String>> = spec.iter().map(GroupColumn::band_names).collect();
        let at = |row: usize, message: String| Error::Parse {
            source_name: table.source.clone(),
            line: table.lines[row],
            message,
        };
        let mut groups = Vec::with_capacity(table.n_rows());
        let mut parts: Vec<String> = Vec::with_capacity(spec.len());
        for row in 0..table.n_rows() {
            parts.clear();
            for ((g, &c), bands) in spec.iter().zip(&columns).zip(&bands) {
                let v = table.columns[c].text(row).ok_or_else(|| {
                    at(row, format!("missing value in column '{}' (the model decides per group)", g.name))
                })?;
                let part = g.group_part(&v, bands).ok_or_else(|| {
                    at(row, format!("'{v}' in column '{}' is not a number (the group is cut into bands)", g.name))
                })?;
                parts.push(part.to_string());
            }
            let key = parts.join(" & ");
            let g = card.groups.iter().position(|n| *n == key).ok_or_else(|| {
                at(row, format!("group '{key}' did not occur in training (its groups: {})", card.groups.join(", ")))
            })?;
            groups.push(g as u32);
        }
        Ok(groups)
    }

    /// Encodes `table` with the model's preprocessing. Returns the data
    /// (labels are placeholders; groups too unless the model decides per
    /// group) and, per categorical column, the number of cells with a
    /// category unseen in training.
    pub fn encode(&self, table: &RawTable) -> Result<(Dataset, Vec<(String, usize)>)> {
        let layout = Arc::new(self.layout());
        let column = |name: &str| {
            table.names.iter().position(|n| n == name).ok_or_else(|| {
                Error::Data(format!(
                    "{} has no column '{name}', which the model reads (it needs: {})",
                    table.source,
                    self.card
                        .numeric
                        .iter()
                        .map(|n| n.name.as_str())
                        .chain(self.card.categorical.iter().map(|c| c.name.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        };
        let numeric: Vec<usize> = self.card.numeric.iter().map(|n| column(&n.name)).collect::<Result<_>>()?;
        let categorical: Vec<usize> = self.card.categorical.iter().map(|c| column(&c.name)).collect::<Result<_>>()?;
        let n = table.n_rows();
        let mut dense = Vec::with_capacity(n * numeric.len());
        let mut cats = Vec::with_capacity(n * categorical.len());
        let mut unseen = vec![0usize; categorical.len()];
        // Categories are text: a column read as numbers is spelled out.
        let dictionaries: Vec<std::borrow::Cow<RawColumn>> = categorical
            .iter()
            .map(|&c| match table.columns[c].numbers() {
                Some(_) => {
                    let mut column = table.columns[c].clone();
                    column.to_dictionary();
                    std::borrow::Cow::Owned(column)
                }
                None => std::borrow::Cow::Borrowed(&table.columns[c]),
            })
            .collect();
        // Per column, the input of each distinct value (computed once).
        let inputs: Vec<Vec<u32>> = dictionaries
            .iter()
            .zip(&layout.categorical)
            .map(|(column, f)| {
                column
                    .values
                    .iter()
                    .map(|v| match f.categories.binary_search_by(|x| x.as_str().cmp(v)) {
                        Ok(k) => f.offset + k as u32,
                        Err(_) => NO_INPUT,
                    })
                    .collect()
            })
            .collect();
        let missing = |row: usize, c: usize| Error::Parse {
            source_name: table.source.clone(),
            line: table.lines[row],
            message: format!("missing value in column '{}' (the model needs every input)", table.names[c]),
        };
        for row in 0..n {
            for (k, &c) in numeric.iter().enumerate() {
                let column = &table.columns[c];
                if column.is_missing(row) {
                    return Err(missing(row, c));
                }
                let x: f64 = column.number(row).ok_or_else(|| Error::Parse {
                    source_name: table.source.clone(),
                    line: table.lines[row],
                    message: format!(
                        "value '{}' in column '{}' is not a number",
                        column.text(row).unwrap_or_default(),
                        table.names[c]
                    ),
                })?;
                dense.push(((x - layout.means[k]) / layout.stds[k]) as f32);
            }
            for (k, &c) in categorical.iter().enumerate() {
                let code = dictionaries[k].codes[row];
                if code == crate::data::table::MISSING {
                    return Err(missing(row, c));
                }
                let input = inputs[k][code as usize];
                if input == NO_INPUT {
                    unseen[k] += 1;
                }
                cats.push(input);
            }
        }
        let (names, groups) = match &self.card.decisions {
            Some(_) => (self.card.groups.clone(), self.groups_of(table)?),
            None => (vec!["all".to_string()], vec![0; n]),
        };
        let data = Dataset::new(layout, Arc::new(names), dense, cats, vec![0.0; n], groups)?;
        let unseen = self.card.categorical.iter().map(|c| c.name.clone()).zip(unseen).filter(|(_, k)| *k > 0).collect();
        Ok((data, unseen))
    }

    /// The probability of the positive class for every row of `data`.
    pub fn scores(&self, data: &Dataset, threads: usize) -> Vec<f32> {
        self.mlp.logits(&self.params, data, threads).into_iter().map(super::loss::sigmoid).collect()
    }

    /// The score and decision of every row of `data` (encoded by
    /// [`encode`](Self::encode)): the saved per-group decisions when the
    /// model was post-processed, else score at least `threshold`.
    pub fn predict(&self, data: &Dataset, threshold: f64, threads: usize) -> Vec<(f32, bool)> {
        let logits = self.mlp.logits(&self.params, data, threads);
        logits
            .iter()
            .enumerate()
            .map(|(i, &z)| {
                let score = super::loss::sigmoid(z);
                let decision = match &self.card.decisions {
                    Some(rule) => rule.decide(data, i, z),
                    None => score as f64 >= threshold,
                };
                (score, decision)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataSource, LoadOptions, load as load_data};

    #[test]
    fn saved_models_load_bit_for_bit_and_score_the_same() {
        let data = load_data(&DataSource::Adult, &LoadOptions::default()).unwrap().encoded;
        let mlp = Mlp::new(data.train.n_inputs(), &[16, 8]).unwrap();
        let params = mlp.init_params(3);
        let dir = tempfile::tempdir().unwrap();
        let info = ModelInfo {
            layout: data.train.layout(),
            label: "income",
            positive: ">50K",
            group_columns: &["race".to_string()],
            groups: data.train.group_names(),
            dataset: "adult",
            group_spec: &[],
            decisions: None,
        };
        save(dir.path(), &mlp, &params, &info).unwrap();
        let model = load(dir.path()).unwrap();
        assert_eq!(model.params, params);
        assert_eq!(model.mlp.hidden(), [16, 8]);
        assert_eq!(&model.layout(), data.train.layout().as_ref());
        // A corrupted weights file is refused with its name: by the
        // checksum, and without one (format 1) by the reader.
        std::fs::write(dir.path().join(WEIGHTS_FILE), b"junk").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors: the checksum in model.json does not match"), "{err}");
        let card = std::fs::read_to_string(dir.path().join(CARD_FILE)).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&card).unwrap();
        v["format"] = 1.into();
        v.as_object_mut().unwrap().remove("checksum");
        std::fs::write(dir.path().join(CARD_FILE), v.to_string()).unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors: not a safetensors file"), "{err}");
    }
}
