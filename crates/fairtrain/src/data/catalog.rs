//! What fairtrain knows about its built-in data sets: origin, licence,
//! citation, label, groups, how they are split and preprocessed, and, for
//! those that are fetched rather than shipped, the files with their sizes
//! and checksums. `fairtrain datasets list` and `datasets info` print this.

use super::cache::FileSpec;
use super::{compas, law};

/// A built-in data set's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetInfo {
    /// The `--data` name.
    pub name: &'static str,
    /// What it is, in a few words.
    pub title: &'static str,
    /// The label and its positive class.
    pub label: &'static str,
    /// The `--group` values and what each means.
    pub groups: &'static [(&'static str, &'static str)],
    /// The group used when none is given.
    pub default_group: &'static str,
    /// Where the data comes from.
    pub origin: &'static str,
    /// Its licence, or the lack of one.
    pub licence: &'static str,
    /// How to cite it.
    pub citation: &'static str,
    /// True when the files are inside fairtrain (licence permitting).
    pub shipped: bool,
    /// The files fetched into the cache (empty when shipped).
    pub files: &'static [FileSpec],
    /// How train and test rows are chosen.
    pub split: &'static str,
    /// What preprocessing does, and what it drops and why.
    pub preprocessing: &'static [&'static str],
}

/// UCI Adult.
pub const ADULT: DatasetInfo = DatasetInfo {
    name: "adult",
    title: "UCI Adult (Census Income, 1994 CPS extract)",
    label: "income > 50K (positive: >50K)",
    groups: &[("race", "White vs Non-White"), ("sex", "Male vs Female")],
    default_group: "race",
    origin: "UCI Machine Learning Repository, doi:10.24432/C5XW20 (adult.data, adult.test)",
    licence: "CC BY 4.0 (shipped inside fairtrain)",
    citation: "Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning Repository.",
    shipped: true,
    files: &[],
    split: "the official files: adult.data (train), adult.test (test)",
    preprocessing: &[
        "rows with a missing value ('?') dropped: 30,162 train and 15,060 test rows remain",
        "fnlwgt dropped (a sampling weight, usable with `weight fnlwgt`); education dropped (duplicates education-num)",
        "the group column leaves the features (unless `keep-group-feature`)",
        "numeric columns standardized, categorical ones one-hot encoded, with training statistics",
    ],
};

/// German credit.
pub const GERMAN: DatasetInfo = DatasetInfo {
    name: "german",
    title: "German credit (UCI Statlog), credit risk of 1,000 loan applicants",
    label: "good credit (class 1; positive: good)",
    groups: &[
        ("sex", "Male vs Female, from attribute 9 (A92/A95 female)"),
        ("age", "> 25 vs <= 25 (Kamiran & Calders)"),
    ],
    default_group: "sex",
    origin: "UCI Machine Learning Repository, doi:10.24432/C5NC77 (german.data)",
    licence: "CC BY 4.0 (shipped inside fairtrain)",
    citation: "Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine Learning Repository.",
    shipped: true,
    files: &[],
    split: "seeded 80/20 split stratified by group and label (`split-seed`, `test-fraction`)",
    preprocessing: &[
        "attribute 9 (personal status and sex) mixes sex with marital status: replaced by a binary sex column",
        "with age groups the numeric age leaves the features too (it reveals the group)",
        "7 numeric attributes standardized, 12 coded attributes one-hot encoded, with training statistics",
    ],
};

/// ProPublica COMPAS.
pub const COMPAS: DatasetInfo = DatasetInfo {
    name: "compas",
    title: "ProPublica COMPAS, two-year recidivism of Broward County defendants (2013-2014)",
    label: "two_year_recid (positive: 1, re-offended within two years)",
    groups: &[("race", "African-American vs Caucasian (other races dropped)"), ("sex", "Male vs Female")],
    default_group: "race",
    origin: "github.com/propublica/compas-analysis at commit bafff5d (compas-scores-two-years.csv)",
    licence: "none stated: not shipped; fetched on demand. Research data about real people; attribute it to ProPublica",
    citation: "Angwin, J., Larson, J., Mattu, S. & Kirchner, L. (2016). Machine Bias. ProPublica.",
    shipped: false,
    files: &[compas::FILE],
    split: "seeded 80/20 split stratified by group and label (`split-seed`, `test-fraction`)",
    preprocessing: &[
        "ProPublica's filter: |days_b_screening_arrest| <= 30, is_recid != -1, c_charge_degree != O, \
         score_text != N/A (6,172 rows)",
        "race groups keep African-American and Caucasian defendants only (5,278 rows)",
        "features: age, sex, race, priors_count, juv_fel/misd/other_count, c_charge_degree, length of jail stay (days)",
        "dropped: identifiers, names, dates, case numbers, r_*/vr_* (they record the outcome), \
         the COMPAS scores (decile_score, score_text, v_*)",
    ],
};

/// Law school bar passage.
pub const LAW: DatasetInfo = DatasetInfo {
    name: "law",
    title: "Law school bar passage (LSAC study), cleaned by Le Quy et al.",
    label: "pass_bar (positive: 1, passed the bar exam)",
    groups: &[("race", "White vs Non-White"), ("male", "Male vs Female")],
    default_group: "race",
    origin: "github.com/tailequy/fairness_dataset at commit abb5a18 (experiments/data/law_school_clean.csv)",
    licence: "none stated: not shipped; fetched on demand. Derived from LSAC data, for research use",
    citation: "Wightman, L. F. (1998). LSAC National Longitudinal Bar Passage Study; Le Quy, T. et al. (2022). \
               A survey on datasets for fairness-aware machine learning. WIREs DMKD.",
    shipped: false,
    files: &[law::FILE],
    split: "seeded 80/20 split stratified by group and label (`split-seed`, `test-fraction`)",
    preprocessing: &[
        "all 20,798 rows kept (the cleaned file has no missing values)",
        "the other 10 columns are standardized numeric features",
    ],
};

/// The generated data set.
pub const SYNTHETIC: DatasetInfo = DatasetInfo {
    name: "synthetic",
    title: "Generated two-group data where every fairness notion binds",
    label: "y (positive: 1)",
    groups: &[("group", "A vs B")],
    default_group: "group",
    origin: "generated in code (fairtrain::data::synthetic), deterministic",
    licence: "part of fairtrain",
    citation: "-",
    shipped: true,
    files: &[],
    split: "30,000 train and 20,000 test rows generated separately",
    preprocessing: &["numeric features standardized with training statistics"],
};

/// Every built-in data set (ACS tasks are listed by [`super::acs`]).
pub const BUILTINS: [&DatasetInfo; 5] = [&ADULT, &GERMAN, &COMPAS, &LAW, &SYNTHETIC];

/// The built-in data set called `name`.
pub fn builtin(name: &str) -> Option<&'static DatasetInfo> {
    BUILTINS.iter().copied().find(|d| d.name == name)
}
