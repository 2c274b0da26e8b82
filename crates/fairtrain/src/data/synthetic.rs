//! A synthetic data set with a known group disparity, generated in code
//! (nothing to download), for tests and a fast demo.
//!
//! Two groups, `A` (the majority, 70%) and `B` (or `groups=K`: the
//! minority share split evenly over `B`, `C`, ..., whose disparity grows
//! from the second group to the last, which gets the full signal scale and
//! shift). Four Gaussian features and
//! one categorical `region` feature drive a logistic label model; in group
//! `B` the regions are distributed differently and the label depends more
//! weakly on the features (its logit is scaled down and shifted). So a
//! classifier fitted to all rows has a clearly higher loss, a lower positive
//! rate and a lower TPR on `B`: loss parity, demographic parity, equal
//! opportunity and equalized odds all bind.
//!
//! The tables go through the same encoding as a user's CSV file.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::encode::{GroupColumn, MissingPolicy, TableSpec};
use super::table::RawTable;

/// Parameters of the generator. [`SyntheticSpec::default`] is the
/// `synthetic` built-in.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Probability that a row belongs to group `B`.
    pub minority_fraction: f64,
    /// Factor applied to group `B`'s logit (< 1: noisier labels).
    pub minority_signal: f64,
    /// Added to group `B`'s logit (< 0: lower base rate).
    pub minority_shift: f64,
    /// Seed of the generator (the data, not the training).
    pub seed: u64,
    /// Number of groups (2 to 702, named `A`, `B`, ..., `Z`, `AA`, `AB`,
    /// ... as spreadsheet columns are): `A` is the
    /// majority; the others share `minority_fraction` evenly, and group
    /// `k` of them (1-based, of `K - 1`) gets the fraction `k / (K - 1)`
    /// of the minority's logit scale change and shift.
    pub groups: usize,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            n_train: 30_000,
            n_test: 20_000,
            minority_fraction: 0.3,
            minority_signal: 0.5,
            minority_shift: -1.0,
            seed: 20_240_615,
            groups: 2,
        }
    }
}

impl SyntheticSpec {
    /// Parses `key=value,...` overrides of the default generator (the part
    /// after `synthetic:` in `--data`; `;` also separates, for lists of
    /// data sets such as `bench --data`): `train`, `test` (row counts),
    /// `minority` (fraction of group B), `signal` (B's logit scale),
    /// `shift` (added to B's logit), `groups` (how many, 2 to 702), `seed`.
    ///
    /// ```
    /// use fairtrain::data::synthetic::SyntheticSpec;
    /// let s = SyntheticSpec::parse("minority=0.05,shift=-2,train=5000").unwrap();
    /// assert_eq!((s.minority_fraction, s.minority_shift, s.n_train), (0.05, -2.0, 5000));
    /// assert_eq!(SyntheticSpec::parse("minority=0.05;shift=-2;train=5000").unwrap(), s);
    /// assert!(SyntheticSpec::parse("shift=nan").unwrap_err().to_string().contains("needs a finite number"));
    /// ```
    pub fn parse(text: &str) -> crate::error::Result<Self> {
        let mut spec = SyntheticSpec::default();
        for part in text.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |why: &str| crate::error::Error::config("data", format!("synthetic:{text}: '{part}' {why}"));
            let (key, value) = part.split_once('=').ok_or_else(|| bad("is not key=value"))?;
            let number = |v: &str| {
                v.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad("needs a finite number"))
            };
            match key.trim() {
                "train" | "test" => {
                    let n = value.trim().parse::<usize>().map_err(|_| bad("needs a row count"))?;
                    if n < 100 {
                        return Err(bad("needs at least 100 rows"));
                    }
                    if key.trim() == "train" { spec.n_train = n } else { spec.n_test = n }
                }
                "minority" => {
                    let m = number(value)?;
                    if !(m > 0.0 && m < 1.0) {
                        return Err(bad("must be between 0 and 1"));
                    }
                    spec.minority_fraction = m;
                }
                "signal" => spec.minority_signal = number(value)?,
                "shift" => spec.minority_shift = number(value)?,
                "seed" => spec.seed = value.trim().parse().map_err(|_| bad("needs an integer"))?,
                "groups" => {
                    spec.groups = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|k| (2..=MAX_GROUPS).contains(k))
                        .ok_or_else(|| bad("needs a number of groups from 2 to 702"))?;
                }
                _ => return Err(bad("is not one of train, test, minority, signal, shift, groups, seed")),
            }
        }
        Ok(spec)
    }

    /// The `--data` value that generates this data set.
    pub fn data_value(&self) -> String {
        if *self == SyntheticSpec::default() {
            return "synthetic".into();
        }
        let groups = if self.groups == 2 { String::new() } else { format!(";groups={}", self.groups) };
        format!(
            "synthetic:train={};test={};minority={};signal={};shift={};seed={}{groups}",
            self.n_train, self.n_test, self.minority_fraction, self.minority_signal, self.minority_shift, self.seed
        )
    }
}

/// Column names of the generated tables.
pub const COLUMNS: [&str; 7] = ["x1", "x2", "x3", "x4", "region", "group", "y"];

const REGIONS: [&str; 3] = ["north", "south", "east"];

/// The most groups a synthetic data set has (names of one or two letters).
const MAX_GROUPS: usize = 26 + 26 * 26;

/// Group `index`'s name: `A` to `Z`, then `AA` to `ZZ`.
fn group_name(index: usize) -> String {
    let letter = |i: usize| char::from(b'A' + i as u8);
    if index < 26 {
        letter(index).to_string()
    } else {
        let i = index - 26;
        [letter(i / 26), letter(i % 26)].iter().collect()
    }
}

impl SyntheticSpec {
    /// Generates the train and test tables.
    pub fn tables(&self) -> (RawTable, RawTable) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let train = self.table(&mut rng, self.n_train, "synthetic (train)");
        let test = self.table(&mut rng, self.n_test, "synthetic (test)");
        (train, test)
    }

    fn table(&self, rng: &mut ChaCha8Rng, n: usize, source: &str) -> RawTable {
        let names = COLUMNS.iter().map(|s| s.to_string()).collect();
        let mut table = RawTable::with_names(source, names);
        let mut cells: Vec<String> = Vec::with_capacity(COLUMNS.len());
        let minorities = self.groups - 1;
        for row in 0..n {
            let minority = rng.random::<f64>() < self.minority_fraction;
            // Which minority group (1-based); two groups draw nothing more,
            // so the default data set is as it always was.
            let group = match (minority, minorities) {
                (false, _) => 0,
                (true, 1) => 1,
                (true, k) => 1 + ((rng.random::<f64>() * k as f64) as usize).min(k - 1),
            };
            let mut x = [0f64; 4];
            for v in &mut x {
                *v = rng.sample(StandardNormal);
            }
            let region_probs: [f64; 3] = if minority { [0.2, 0.3, 0.5] } else { [0.5, 0.3, 0.2] };
            let u: f64 = rng.random();
            let region = if u < region_probs[0] {
                0
            } else if u < region_probs[0] + region_probs[1] {
                1
            } else {
                2
            };
            let region_effect = [0.4, 0.0, -0.4][region];
            let mut logit = 1.6 * x[0] - 1.2 * x[1] + 0.8 * x[2] + 0.3 * x[3] + region_effect - 0.3;
            if minority {
                // The last group gets exactly the minority's scale and shift.
                let (scale, shift) = if group == minorities {
                    (self.minority_signal, self.minority_shift)
                } else {
                    let t = group as f64 / minorities as f64;
                    (1.0 + t * (self.minority_signal - 1.0), t * self.minority_shift)
                };
                logit = scale * logit + shift;
            }
            let p = 1.0 / (1.0 + (-logit).exp());
            let y = rng.random::<f64>() < p;
            cells.clear();
            cells.extend(x.iter().map(|v| format!("{:.5}", v)));
            cells.push(REGIONS[region].to_string());
            cells.push(group_name(group));
            cells.push(if y { "1" } else { "0" }.to_string());
            // Line numbers as if the table were a CSV file with a header.
            table.push_row(row as u64 + 2, cells.iter().map(String::as_str));
        }
        table
    }
}

/// How the synthetic tables are encoded: target `y`, groups from `group`.
pub fn spec(missing: MissingPolicy, keep_group_feature: bool) -> TableSpec {
    TableSpec::fixed("y", "1", vec![GroupColumn::plain("group")], missing, keep_group_feature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::encode::{Split, encode};

    #[test]
    fn deterministic_and_disparate() {
        let s = SyntheticSpec::default();
        let (a, _) = s.tables();
        let (b, _) = s.tables();
        assert_eq!(a.columns[0].values, b.columns[0].values);
        let (train, test) = s.tables();
        let e = encode(train, Split::Table(test), &spec(MissingPolicy::Drop, false)).unwrap();
        assert_eq!((e.train.n_rows(), e.test.n_rows()), (30_000, 20_000));
        assert_eq!(e.train.group_names(), ["A", "B"]);
        let counts = e.train.group_counts();
        assert!((8_700..9_300).contains(&counts[1]), "{counts:?}");
        // Group B has a lower base rate...
        let rate = |g: u32| {
            let rows: Vec<usize> = (0..e.train.n_rows()).filter(|&i| e.train.groups()[i] == g).collect();
            rows.iter().map(|&i| e.train.labels()[i]).sum::<f32>() / rows.len() as f32
        };
        assert!(rate(0) - rate(1) > 0.05, "{} vs {}", rate(0), rate(1));
        // ...and noisier labels: the true model's mean loss is higher there.
        // Recompute the Bayes loss from the generating logits.
        let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
        let mut bayes = [(0.0f64, 0usize); 2];
        for _ in 0..s.n_train {
            let minority = rng.random::<f64>() < s.minority_fraction;
            let mut x = [0f64; 4];
            for v in &mut x {
                *v = rng.sample(StandardNormal);
            }
            let u: f64 = rng.random();
            let probs: [f64; 3] = if minority { [0.2, 0.3, 0.5] } else { [0.5, 0.3, 0.2] };
            let region = if u < probs[0] {
                0
            } else if u < probs[0] + probs[1] {
                1
            } else {
                2
            };
            let mut logit = 1.6 * x[0] - 1.2 * x[1] + 0.8 * x[2] + 0.3 * x[3] + [0.4, 0.0, -0.4][region] - 0.3;
            if minority {
                logit = s.minority_signal * logit + s.minority_shift;
            }
            let p = 1.0 / (1.0 + (-logit).exp());
            let y = rng.random::<f64>() < p;
            let loss = if y { -p.ln() } else { -(1.0 - p).ln() };
            let g = minority as usize;
            bayes[g].0 += loss;
            bayes[g].1 += 1;
        }
        let (la, lb) = (bayes[0].0 / bayes[0].1 as f64, bayes[1].0 / bayes[1].1 as f64);
        assert!(lb - la > 0.05, "Bayes losses {la} vs {lb}");
        // 4 numeric inputs + 3 regions.
        assert_eq!(e.train.n_inputs(), 7);
    }

    /// `groups=K`: K groups named A, B, ...; A keeps the majority share and
    /// the minorities split the rest; the last minority has the full
    /// disparity (the lowest base rate), the first the mildest.
    #[test]
    fn many_groups_with_graded_disparity() {
        let s = SyntheticSpec::parse("groups=5,train=20000,test=1000").unwrap();
        assert_eq!(
            s.data_value(),
            "synthetic:train=20000;test=1000;minority=0.3;signal=0.5;shift=-1;seed=20240615;groups=5"
        );
        let (train, test) = s.tables();
        let e = encode(train, Split::Table(test), &spec(MissingPolicy::Drop, false)).unwrap();
        let mut names = e.train.group_names().to_vec();
        names.sort();
        assert_eq!(names, ["A", "B", "C", "D", "E"]);
        let index = |name: &str| e.train.group_names().iter().position(|n| n == name).unwrap() as u32;
        let rate = |g: u32| {
            let rows: Vec<usize> = (0..e.train.n_rows()).filter(|&i| e.train.groups()[i] == g).collect();
            (rows.len(), rows.iter().map(|&i| e.train.labels()[i]).sum::<f32>() / rows.len() as f32)
        };
        let (n_a, rate_a) = rate(index("A"));
        let (n_b, rate_b) = rate(index("B"));
        let (n_e, rate_e) = rate(index("E"));
        assert!((13_600..14_400).contains(&n_a) && (1_300..1_700).contains(&n_b) && (1_300..1_700).contains(&n_e));
        assert!(rate_a > rate_b && rate_b > rate_e + 0.05, "{rate_a} {rate_b} {rate_e}");
        assert!(SyntheticSpec::parse("groups=1").is_err() && SyntheticSpec::parse("groups=703").is_err());
        // Past Z the names take two letters, as spreadsheet columns do.
        let names: Vec<String> = [0, 25, 26, 27, 51, 52, 701].map(group_name).to_vec();
        assert_eq!(names, ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ"]);
    }
}
