//! ProPublica COMPAS two-year recidivism (Angwin et al., 2016). The data
//! carries no licence, so it is not shipped: it is fetched from ProPublica's
//! repository at a pinned commit (or imported from a local copy) into the
//! cache and checked by size and sha256.
//!
//! Preprocessing follows ProPublica's analysis: keep rows with
//! `-30 <= days_b_screening_arrest <= 30`, `is_recid != -1`,
//! `c_charge_degree != "O"` and `score_text != "N/A"` (6,172 rows). The
//! label is `two_year_recid` (1 = re-offended within two years). Features:
//! `age`, `sex`, `race`, `priors_count`, the three juvenile counts,
//! `c_charge_degree` and the length of the jail stay in days; identifiers,
//! names, dates, case numbers, the `r_*`/`vr_*` columns (they record the
//! outcome) and the COMPAS scores (`decile_score`, `score_text`, `v_*`) are
//! dropped. With race groups only African-American and Caucasian
//! defendants are kept (5,278 rows), as is usual.

use super::cache::FileSpec;
use super::encode::{MissingPolicy, TableSpec, allowed_groups};
use super::table::{RawTable, ReadOptions};
use crate::error::{Error, Result};

/// The published file.
pub const FILE: FileSpec = FileSpec {
    name: "compas-scores-two-years.csv",
    url: "https://raw.githubusercontent.com/propublica/compas-analysis/\
          bafff5da3f2e45eca6c2d5055faad269defd135a/compas-scores-two-years.csv",
    size: 2_546_489,
    sha256: "c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d",
};

/// Sensitive columns COMPAS offers as groups.
pub const GROUP_COLUMNS: [&str; 2] = ["race", "sex"];

/// Feature columns kept (besides the derived `length_of_stay`).
const FEATURES: [&str; 8] =
    ["age", "sex", "race", "priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count", "c_charge_degree"];

/// The prepared table from the published file's bytes: ProPublica's
/// filter applied, the feature columns, `length_of_stay` (days) and the
/// label `two_year_recid`. With `race_pair`, only African-American and
/// Caucasian rows are kept.
pub fn table(bytes: &[u8], race_pair: bool) -> Result<RawTable> {
    let source = FILE.name;
    // Two column names appear twice (decile_score, priors_count); the
    // copies get a ".1" suffix.
    let raw = RawTable::read(bytes, source, &ReadOptions { rename_duplicates: true, ..ReadOptions::default() })?;
    let col = |name: &str| raw.column_index(name);
    let (days, is_recid, degree, score) =
        (col("days_b_screening_arrest")?, col("is_recid")?, col("c_charge_degree")?, col("score_text")?);
    let (jail_in, jail_out, label, race) =
        (col("c_jail_in")?, col("c_jail_out")?, col("two_year_recid")?, col("race")?);
    let features: Vec<usize> = FEATURES.iter().map(|f| col(f)).collect::<Result<_>>()?;
    let mut names: Vec<String> = FEATURES.iter().map(|s| s.to_string()).collect();
    names.extend(["length_of_stay".to_string(), "two_year_recid".to_string()]);
    let mut out = RawTable::with_names(source, names);
    for row in 0..raw.n_rows() {
        let cell = |c: usize| raw.columns[c].text(row);
        let in_window = cell(days).and_then(|d| d.parse::<f64>().ok()).is_some_and(|d| (-30.0..=30.0).contains(&d));
        let keep = in_window
            && cell(is_recid).as_deref() != Some("-1")
            && cell(degree).as_deref() != Some("O")
            && cell(score).is_some_and(|s| s != "N/A")
            && (!race_pair || matches!(cell(race).as_deref(), Some("African-American" | "Caucasian")));
        if !keep {
            continue;
        }
        let stay = match (
            cell(jail_in).as_deref().and_then(timestamp_days),
            cell(jail_out).as_deref().and_then(timestamp_days),
        ) {
            (Some(a), Some(b)) => format!("{}", b - a),
            _ => String::new(),
        };
        let cells: Vec<_> = features.iter().map(|&c| cell(c).unwrap_or_default()).collect();
        let label = cell(label).unwrap_or_default();
        out.push_row(raw.lines[row], cells.iter().map(|c| c.as_ref()).chain([stay.as_str(), label.as_ref()]));
    }
    if out.n_rows() == 0 {
        return Err(Error::Data(format!("{source}: no rows pass ProPublica's filter; is this the right file?")));
    }
    Ok(out)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD HH:MM:SS` timestamp (fractional).
fn timestamp_days(s: &str) -> Option<f64> {
    let (date, time) = s.trim().split_once(' ').unwrap_or((s.trim(), "00:00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<f64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next().flatten().unwrap_or(0.0), t.next().flatten().unwrap_or(0.0));
    // Days from civil (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 + (hh * 3600.0 + mm * 60.0 + ss) / 86_400.0)
}

/// The preprocessing for the given sensitive columns (`race`, `sex`).
pub fn spec(groups: &[String], missing: MissingPolicy, keep_group_feature: bool) -> Result<TableSpec> {
    let columns = allowed_groups("compas", groups, &GROUP_COLUMNS)?;
    Ok(TableSpec::fixed("two_year_recid", "1", columns, missing, keep_group_feature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_to_days() {
        assert_eq!(timestamp_days("1970-01-01 00:00:00"), Some(0.0));
        assert_eq!(timestamp_days("2000-03-01 12:00:00"), Some(11_017.5));
        let stay = timestamp_days("2013-08-14 05:41:20").unwrap() - timestamp_days("2013-08-13 06:03:42").unwrap();
        assert!((stay - 0.984_467).abs() < 1e-5, "{stay}");
        assert_eq!(timestamp_days("not a date"), None);
    }

    #[test]
    fn filter_and_race_pair_on_a_small_file() {
        let header = "id,days_b_screening_arrest,is_recid,c_charge_degree,score_text,c_jail_in,c_jail_out,\
                      two_year_recid,race,age,sex,priors_count,juv_fel_count,juv_misd_count,juv_other_count,priors_count";
        let rows = [
            "1,0,1,F,Low,2013-01-01 00:00:00,2013-01-03 12:00:00,1,Caucasian,30,Male,2,0,0,0,2", // kept
            "2,31,1,F,Low,2013-01-01 00:00:00,2013-01-02 00:00:00,1,Caucasian,30,Male,2,0,0,0,2", // window
            "3,-30,-1,F,Low,2013-01-01 00:00:00,2013-01-02 00:00:00,0,Caucasian,30,Male,2,0,0,0,2", // is_recid
            "4,5,0,O,Low,2013-01-01 00:00:00,2013-01-02 00:00:00,0,Caucasian,30,Male,2,0,0,0,2", // degree O
            "5,5,0,M,N/A,2013-01-01 00:00:00,2013-01-02 00:00:00,0,Caucasian,30,Male,2,0,0,0,2", // score
            "6,,0,M,Low,2013-01-01 00:00:00,2013-01-02 00:00:00,0,Caucasian,30,Male,2,0,0,0,2",  // no days
            "7,-30,0,M,High,2013-01-01 00:00:00,2013-01-02 00:00:00,0,Hispanic,30,Female,2,0,0,0,2", // kept unless pair
        ];
        let text = format!("{header}\n{}\n", rows.join("\n"));
        let t = table(text.as_bytes(), false).unwrap();
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.lines, [2, 8]);
        let stay = t.column_index("length_of_stay").unwrap();
        assert_eq!(t.columns[stay].text(0).as_deref(), Some("2.5"));
        let t = table(text.as_bytes(), true).unwrap();
        assert_eq!(t.n_rows(), 1);
    }
}
