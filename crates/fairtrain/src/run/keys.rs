//! Keys of a [`RunConfig`]: reading files (sectioned, or the flat form of
//! fairtrain 0.1), laying flat keys (flags, Python keywords) over a
//! configuration, and naming the key at fault with its file and line, and
//! the key that was probably meant.
//!
//! Every key is a field of one section struct. Their names are read off
//! the serde derives themselves ([`fields_of`]), so a field added to a
//! section is a key, a flat key and a suggestion without being listed
//! anywhere else.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::config::{
    AlgorithmKeys, ConstraintSpec, DataKeys, GeneralizationKeys, ModelKeys, OutputKeys, RunConfig, TrainingKeys,
};
pub use super::origin::{KeyOrigins, Origin};
use crate::error::{Error, Result};

/// The field names of a struct deserialized by serde's derive, read off the
/// derive itself (the names it would accept), in declaration order.
pub fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe(&'static [&'static str]);
    #[derive(Debug)]
    struct Found;
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names found")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Found
        }
    }
    struct Recorder<'a>(&'a mut Probe);
    impl<'de> Deserializer<'de> for Recorder<'_> {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> std::result::Result<V::Value, Found> {
            Err(Found)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> std::result::Result<V::Value, Found> {
            self.0.0 = fields;
            Err(Found)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut probe = Probe(&[]);
    let _ = T::deserialize(Recorder(&mut probe));
    probe.0
}

/// The top-level keys that are not sections.
const TOP_LEVEL: [&str; 4] = ["preset", "seed", "bound", "constraint"];

/// The sections and their keys.
pub fn sections() -> [(&'static str, &'static [&'static str]); 6] {
    [
        ("data", fields_of::<DataKeys>()),
        ("model", fields_of::<ModelKeys>()),
        ("algorithm", fields_of::<AlgorithmKeys>()),
        ("training", fields_of::<TrainingKeys>()),
        ("generalization", fields_of::<GeneralizationKeys>()),
        ("output", fields_of::<OutputKeys>()),
    ]
}

/// Flat keys whose section key has another name.
const ALIASES: [(&str, &str, &str); 3] =
    [("data", "data", "source"), ("algorithm", "algorithm", "name"), ("method", "algorithm", "name")];

/// Every flat key (as a flag names it), with its path in the sections.
pub fn flat_keys() -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = TOP_LEVEL.iter().map(|k| (k.to_string(), k.to_string())).collect();
    for (flat, section, key) in ALIASES {
        keys.push((flat.to_string(), format!("{section}.{key}")));
    }
    for (section, fields) in sections() {
        for field in fields {
            if !ALIASES.iter().any(|(_, s, k)| *s == section && k == field) {
                keys.push((field.to_string(), format!("{section}.{field}")));
            }
        }
    }
    keys
}

/// The section path of a flat key (`lr` -> `algorithm.lr`), if it is one.
pub fn route(flat: &str) -> Option<String> {
    flat_keys().into_iter().find(|(k, _)| k == flat).map(|(_, path)| path)
}

/// `did you mean ...?` for an unknown key among `known`.
pub fn suggest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let mut best: Option<(f64, &str)> = None;
    for k in known {
        let score = strsim::jaro_winkler(unknown, k);
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, k));
        }
    }
    match best {
        Some((_, k)) => format!("; did you mean '{k}'?"),
        None => String::new(),
    }
}

/// The 1-based line of `key` in `section` (`None`: the top level) of a
/// TOML text, or of the first table header naming the section.
fn line_of(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[') {
            let name = header.trim_start_matches('[').split(']').next().unwrap_or("").trim().to_string();
            if section.is_none() && name == key {
                return Some(i + 1);
            }
            current = Some(name);
            continue;
        }
        let name = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if name == key && t.contains('=') && current.as_deref() == section {
            return Some(i + 1);
        }
    }
    None
}

/// Reads configuration (a file's text, flags, keywords) into sections,
/// routing flat keys (the flat form of fairtrain 0.1, flags) into them,
/// with the origin of every key.
pub(crate) struct Reader<'a> {
    /// The text, for the line of each key.
    text: Option<&'a str>,
    /// The file, for messages and relative paths.
    file: Option<&'a Path>,
    /// The origin of keys that do not come from a file.
    origin: Origin,
    /// True once a key of the flat form was routed.
    pub flat_form: bool,
    /// The key (as written) that set each path, to refuse a second one.
    set_by: BTreeMap<String, String>,
}

impl<'a> Reader<'a> {
    /// A reader of a file's (or a string's) TOML text.
    pub(crate) fn text(text: &'a str, file: Option<&'a Path>) -> Self {
        Reader { text: Some(text), file, origin: Origin::Api, flat_form: false, set_by: BTreeMap::new() }
    }

    /// A reader of keys from `origin` (flags, keywords).
    pub(crate) fn keys(origin: Origin) -> Self {
        Reader { text: None, file: None, origin, flat_form: false, set_by: BTreeMap::new() }
    }

    fn origin(&self, section: Option<&str>, key: &str) -> Origin {
        match (self.file, self.text.and_then(|t| line_of(t, section, key))) {
            (Some(path), line) => Origin::File { path: path.to_path_buf(), line: line.unwrap_or(1) },
            (None, _) => self.origin.clone(),
        }
    }

    fn error(&self, origin: &Origin, key: &str, message: String) -> Error {
        match origin {
            Origin::File { .. } => Error::Data(format!("{}: {message}", origin.describe(key))),
            _ => Error::config(key, message),
        }
    }

    /// Parses the text (syntax errors name the file and line).
    pub(crate) fn parse(&self) -> Result<toml::Table> {
        let text = self.text.unwrap_or("");
        toml::from_str(text).map_err(|e| {
            // The line holding the span's start: 1 + the newlines before it.
            let line = e.span().map(|s| 1 + text.as_bytes()[..s.start].iter().filter(|&&b| b == b'\n').count());
            let what = match self.file {
                Some(p) => format!("config file {}", p.display()),
                None => "configuration".to_string(),
            };
            match line {
                Some(line) => Error::Data(format!("{what}, line {line}: {}", e.message().trim())),
                None => Error::Data(format!("{what}: {}", e.message().trim())),
            }
        })
    }

    /// Sections from `table`: section tables pass through, flat keys and
    /// `section.key` paths are routed, every key is checked to exist (with
    /// a suggestion) and to have a value of the right type.
    pub(crate) fn normalize(&mut self, table: toml::Table) -> Result<(toml::Table, KeyOrigins)> {
        let mut origins = KeyOrigins::default();
        let mut out = toml::Table::new();
        for (key, value) in table {
            let is_section = sections().iter().any(|(s, _)| *s == key);
            if is_section && value.is_table() {
                let toml::Value::Table(inner) = value else { unreachable!("checked") };
                for (k, v) in inner {
                    let origin = self.origin(Some(&key), &k);
                    self.place(&mut out, &mut origins, &key, &k, v, origin, &k.clone())?;
                }
            } else if TOP_LEVEL.contains(&key.as_str()) {
                let origin = self.origin(None, &key);
                check_constraints(&key, &value).map_err(|(at, m)| {
                    let line = at.and_then(|(i, k)| self.text.and_then(|t| line_in_array(t, &key, i, &k)));
                    match (self.file, line) {
                        (Some(path), Some(line)) => {
                            self.error(&Origin::File { path: path.to_path_buf(), line }, &key, m)
                        }
                        _ => self.error(&origin, &key, m),
                    }
                })?;
                origins.keys.insert(key.clone(), origin);
                out.insert(key, value);
            } else if let Some((section, k)) = key.split_once('.').filter(|(s, _)| sections().iter().any(|x| x.0 == *s))
            {
                let origin = self.origin(None, &key);
                self.place(&mut out, &mut origins, section, k, value, origin, &key)?;
            } else {
                let origin = self.origin(None, &key);
                let Some(path) = route(&key) else {
                    let known = flat_keys();
                    let hint = suggest(&key, known.iter().map(|(k, _)| k.as_str()));
                    return Err(self.error(&origin, &key, format!("unknown key '{key}'{hint}")));
                };
                self.flat_form = true;
                let (section, k) = path.split_once('.').expect("a routed key has a section");
                self.place(&mut out, &mut origins, section, k, value, origin, &key)?;
            }
        }
        if let Some(dir) = self.file.and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()) {
            relative_to(&mut out, dir);
        }
        Ok((out, origins))
    }

    /// Puts `section.key = value` into `out` (`written` is the key as the
    /// input spelled it), checking the key exists, is set once, and its
    /// value has the right type.
    #[allow(clippy::too_many_arguments)]
    fn place(
        &mut self,
        out: &mut toml::Table,
        origins: &mut KeyOrigins,
        section: &str,
        key: &str,
        value: toml::Value,
        origin: Origin,
        written: &str,
    ) -> Result<()> {
        let fields: &[&str] = sections().into_iter().find(|(s, _)| *s == section).map_or(&[], |(_, f)| f);
        if !fields.contains(&key) {
            let hint = suggest(key, fields.iter().copied());
            let elsewhere = route(key)
                .filter(|p| !p.starts_with(&format!("{section}.")))
                .map(|p| format!(" ('{key}' belongs in [{}])", p.split('.').next().unwrap_or("")))
                .unwrap_or_default();
            return Err(self.error(&origin, key, format!("unknown key '{key}' in [{section}]{hint}{elsewhere}")));
        }
        check_type(section, key, &value).map_err(|m| self.error(&origin, key, m))?;
        let path = format!("{section}.{key}");
        if let Some(first) = self.set_by.insert(path, written.to_string()) {
            return Err(self.error(
                &origin,
                written,
                format!("'{written}' sets [{section}] {key}, which '{first}' already set; give one of them"),
            ));
        }
        let slot = out.entry(section.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = slot {
            t.insert(key.to_string(), value);
        }
        origins.keys.insert(format!("{section}.{key}"), origin);
        Ok(())
    }
}

/// Checks that `section.key = value` deserializes, returning the message.
pub(crate) fn check_type(section: &str, key: &str, value: &toml::Value) -> std::result::Result<(), String> {
    let mut one = toml::Table::new();
    one.insert(key.to_string(), value.clone());
    let one = toml::Value::Table(one);
    let result = match section {
        "data" => one.try_into::<DataKeys>().map(drop),
        "model" => one.try_into::<ModelKeys>().map(drop),
        "algorithm" => one.try_into::<AlgorithmKeys>().map(drop),
        "training" => one.try_into::<TrainingKeys>().map(drop),
        "generalization" => one.try_into::<GeneralizationKeys>().map(drop),
        "output" => one.try_into::<OutputKeys>().map(drop),
        _ => one.try_into::<RunConfig>().map(drop),
    };
    result.map_err(|e| e.message().trim().to_string())
}

/// Checks the keys of `[[constraint]]` tables, with suggestions, and the
/// type of the other top-level keys.
/// An error, located at a key of the `i`-th `[[constraint]]` table.
type Located = (Option<(usize, String)>, String);

fn check_constraints(key: &str, value: &toml::Value) -> std::result::Result<(), Located> {
    if key == "constraint" {
        let items: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        let fields = fields_of::<ConstraintSpec>();
        for (i, item) in items.into_iter().enumerate() {
            let toml::Value::Table(t) = item else { continue };
            for (k, v) in t {
                if !fields.contains(&k.as_str()) {
                    let hint = suggest(k, fields.iter().copied());
                    return Err((Some((i, k.clone())), format!("unknown key '{k}' in a [[constraint]] table{hint}")));
                }
                // Every field is optional: each one's type is checked alone.
                let one = toml::Value::Table(toml::Table::from_iter([(k.clone(), v.clone())]));
                if let Err(e) = one.try_into::<ConstraintSpec>() {
                    let message = format!("in a [[constraint]] table: {}", e.message().trim());
                    return Err((Some((i, k.clone())), message));
                }
            }
        }
    }
    check_type("", key, value).map_err(|m| (None, m))
}

/// The 1-based line of `key` in the `index`-th `[[array]]` table of a TOML
/// text, else of that table's header.
fn line_in_array(text: &str, array: &str, index: usize, key: &str) -> Option<usize> {
    let mut seen: Option<usize> = None;
    let mut inside = false;
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            let is_ours =
                t.starts_with("[[") && t.trim_start_matches('[').split(']').next().map(str::trim) == Some(array);
            inside = is_ours;
            if is_ours {
                let k = seen.map_or(0, |k| k + 1);
                seen = Some(k);
                if k == index {
                    header = Some(i + 1);
                }
            }
            continue;
        }
        let name = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if inside && seen == Some(index) && t.contains('=') && name == key {
            return Some(i + 1);
        }
    }
    header
}

/// Resolves the relative paths of a file's `[data]` keys against the file's
/// folder, so a configuration runs the same from any working directory.
fn relative_to(table: &mut toml::Table, dir: &Path) {
    let Some(toml::Value::Table(data)) = table.get_mut("data") else { return };
    for key in ["source", "test-data", "schema"] {
        let Some(toml::Value::String(value)) = data.get_mut(key) else { continue };
        let is_path = key != "source" || crate::data::DataSource::parse(value).is_ok_and(|s| s.is_file());
        if is_path && Path::new(value.as_str()).is_relative() {
            *value = dir.join(value.as_str()).display().to_string();
        }
    }
}

/// The budget keys: a layer that sets one replaces the budget below it.
pub(crate) const BUDGET_KEYS: [&str; 3] = ["iterations", "time-budget", "epochs"];

/// Lays `top` over `base`: sections merge key by key, other values (the
/// constraint list among them) are replaced, and a budget in `top`
/// replaces the budget of `base`.
pub(crate) fn merge(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => {
                if key == "training" && BUDGET_KEYS.iter().any(|k| t.contains_key(*k)) {
                    for k in BUDGET_KEYS {
                        b.remove(k);
                    }
                }
                b.extend(t);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

impl RunConfig {
    /// Reads a configuration from TOML text: sections, or the flat keys of
    /// fairtrain 0.1 (and of the flags).
    pub fn from_toml(text: &str) -> Result<RunConfig> {
        Self::read(text, None)
    }

    /// Reads a configuration file. Unknown keys and bad values are errors
    /// naming the file and line (and the key probably meant); relative
    /// paths in `[data]` are relative to the file's folder.
    pub fn from_file(path: &Path) -> Result<RunConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Data(format!("cannot read config file {}: {e}", path.display())))?;
        Self::read(&text, Some(path))
    }

    /// Reads configuration text that was stored in `file` (such as the
    /// settings a checkpoint records), with its leniency toward keys at
    /// their default.
    pub(crate) fn from_toml_in(text: &str, file: &Path) -> Result<RunConfig> {
        Self::read(text, Some(file))
    }

    fn read(text: &str, file: Option<&Path>) -> Result<RunConfig> {
        let mut reader = Reader::text(text, file);
        let table = reader.parse()?;
        let (table, mut origins) = reader.normalize(table)?;
        if let (true, Some(path)) = (reader.flat_form, file) {
            origins.notes.push(format!(
                "config file {} has flat keys (the form of fairtrain 0.1); they load as they are, and the sectioned \
                 form ([data], [algorithm], [training]...) is what each run writes to its config.toml",
                path.display()
            ));
        }
        Self::from_sections(table, origins)
    }

    /// A configuration from keys given as a table: flat keys (`lr`,
    /// `data`, `validation-fraction`), `section.key` paths, or sections.
    /// `origin` says where they came from, for messages.
    pub fn from_table(table: toml::Table, origin: Origin) -> Result<RunConfig> {
        let (table, origins) = Reader::keys(origin).normalize(table)?;
        Self::from_sections(table, origins)
    }

    fn from_sections(table: toml::Table, origins: KeyOrigins) -> Result<RunConfig> {
        let mut config: RunConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| Error::Data(format!("configuration: {}", e.message().trim())))?;
        config.origins = origins;
        Ok(config)
    }

    /// Sets one key (a flat key such as `lr` or `data`, or a path such as
    /// `algorithm.lr`) over this configuration.
    pub fn set(&mut self, key: &str, value: impl Into<toml::Value>) -> Result<()> {
        let mut table = toml::Table::new();
        table.insert(key.to_string(), value.into());
        self.overlay(RunConfig::from_table(table, Origin::Api)?);
        Ok(())
    }

    /// Lays `top` over this configuration: its keys win, sections merge key
    /// by key, and a budget in `top` replaces this one's.
    pub fn overlay(&mut self, top: RunConfig) {
        let mut base = toml::Table::try_from(&*self).expect("a configuration serializes");
        merge(&mut base, toml::Table::try_from(&top).expect("a configuration serializes"));
        let mut origins = std::mem::take(&mut self.origins);
        origins.keys.extend(top.origins.keys);
        origins.notes.extend(top.origins.notes);
        *self = toml::Value::Table(base).try_into().expect("merged configurations deserialize");
        self.origins = origins;
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a configuration serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_come_from_the_derives() {
        assert_eq!(fields_of::<ModelKeys>(), ["hidden", "backend", "device"]);
        assert!(fields_of::<AlgorithmKeys>().contains(&"dual-lr"));
        assert_eq!(route("lr").as_deref(), Some("algorithm.lr"));
        assert_eq!(route("data").as_deref(), Some("data.source"));
        assert_eq!(route("validation-fraction").as_deref(), Some("generalization.validation-fraction"));
        assert_eq!(route("nope"), None);
    }

    #[test]
    fn every_flat_key_is_unique() {
        let keys = flat_keys();
        for (i, (k, _)) in keys.iter().enumerate() {
            assert!(keys[i + 1..].iter().all(|(o, _)| o != k), "{k} is in two sections");
        }
    }

    #[test]
    fn suggestions_find_near_keys() {
        assert_eq!(suggest("algoritm", ["algorithm", "data"]), "; did you mean 'algorithm'?");
        assert_eq!(suggest("zzz", ["algorithm", "data"]), "");
    }

    #[test]
    fn lines_of_keys() {
        let text = "seed = 1\n[algorithm]\nname = \"adam\"\nlr = 0.1\n[training]\nlr = 2\n";
        assert_eq!(line_of(text, Some("algorithm"), "lr"), Some(4));
        assert_eq!(line_of(text, None, "seed"), Some(1));
        assert_eq!(line_of(text, Some("training"), "lr"), Some(6));
        let text = "seed = 1\n\n[[constraint]]\nnotion = \"demographic-parity\"\n\n[[constraint]]\nnotion = \"loss-parity\"\n\nbound = 2\n";
        assert_eq!(line_in_array(text, "constraint", 1, "bound"), Some(9));
        assert_eq!(line_in_array(text, "constraint", 0, "notion"), Some(4));
        assert_eq!(line_in_array(text, "constraint", 0, "bound"), Some(3));
    }
}
