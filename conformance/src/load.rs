//! Loading scenario files (format in [`crate::scenario`]) into validated [`Scenario`]s.
//!
//! Every error names the file, the line (and for TOML syntax errors the column) and what was
//! expected, e.g.
//! `scenarios/fapi2-security-profile/x.toml:14: unknown mutation "pkce_plian" for step "par"; expected one of: drop_pkce, pkce_plain`.
//!
//! The text is parsed twice: once into a [`toml::Table`] for the values and once into a
//! [`toml::de::DeTable`], which keeps the byte span of every key and value, for the messages.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::{Spanned, Table, Value};

use crate::scenario::{
    Applies, Expect, FORMAT_VERSION, Feature, Messages, RequestMethod, Requires, ResponseMode, Scenario, SecurityProfile, StepSpec,
};
use crate::variant::{ClientAuth, OpenId, Sender, VariantAxes};

/// Why a scenario file (or a plan folder) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not valid TOML.
    #[error("{file}:{line}:{column}: invalid TOML: {message}")]
    Syntax { file: String, line: usize, column: usize, message: String },
    /// Valid TOML, but not a valid scenario.
    #[error("{file}:{line}: {message}")]
    Invalid { file: String, line: usize, message: String },
    /// A file or folder could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A plan-level problem (e.g. a folder without scenario files).
    #[error("{path}: {message}")]
    Plan { path: String, message: String },
    /// Several files are bad: every error, one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Many(Vec<LoadError>),
}

impl LoadError {
    /// One error as is, several as [`LoadError::Many`]; `None` when there are none.
    pub fn combine(mut errors: Vec<LoadError>) -> Option<LoadError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(LoadError::Many(errors)),
        }
    }
}

/// What the loader needs to know about one step of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct StepDef<'a> {
    pub name: &'a str,
    pub mutations: &'a [&'a str],
    pub params: &'a [&'a str],
}

/// The steps implemented in Rust ([`crate::execute::catalog`]).
pub fn builtin_catalog() -> Vec<StepDef<'static>> {
    crate::execute::catalog()
        .iter()
        .map(|s| StepDef { name: s.name, mutations: s.mutations, params: s.params })
        .collect()
}

/// Keys of a scenario file.
const TOP_KEYS: &[&str] = &["format", "module", "title", "requirements", "applies", "requires", "steps"];
/// Keys of `[applies]`.
const APPLIES_KEYS: &[&str] = &["client_auth", "sender", "openid", "request_method", "response_mode"];
/// Keys of `[requires]`.
const REQUIRES_KEYS: &[&str] = &["profile", "features"];
/// Keys every `[[steps]]` entry may have; any other key is a step parameter.
const STEP_KEYS: &[&str] = &["step", "client", "mutations", "expect", "errors"];
const EXPECT_VALUES: &[&str] = &["success", "rejected", "either"];

/// Keys of a `plan.toml`.
const PLAN_KEYS: &[&str] =
    &["format", "title", "include", "request_method", "response_mode", "security_profile", "variants", "requires"];

/// The name of a plan folder's settings file; every other `*.toml` in the folder is a module.
pub const PLAN_FILE: &str = "plan.toml";

/// A plan folder's `plan.toml`: settings for every module of the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanFile {
    /// The file, for messages.
    pub path: String,
    pub title: Option<String>,
    /// Plans whose own module files this plan runs too, each with the line that names it.
    pub include: Vec<(String, usize)>,
    pub messages: Messages,
    /// `[variants]`: the plan's own variant axes (default: the eight FAPI 2.0 variants).
    pub axes: VariantAxes,
    /// Applied to every module of the plan: the profile replaces the modules' own (an own
    /// module may only repeat it), the features are added to theirs.
    pub requires: Requires,
}

/// Parses and validates a `plan.toml` (format in `scenarios/README.md`).
pub fn parse_plan_file(file: &str, text: &str) -> Result<PlanFile, LoadError> {
    let values: Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        LoadError::Syntax { file: file.to_string(), line, column, message: e.message().trim().to_string() }
    })?;
    let spans = DeTable::parse(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        LoadError::Syntax { file: file.to_string(), line, column, message: e.message().trim().to_string() }
    })?;
    let cx = Cx { file, text };
    cx.plan_file(&values, spans.get_ref())
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A scenario with the line of its `module` key (for duplicate-module messages).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub module_line: usize,
}

/// Parses and validates one scenario file against the built-in step catalog.
pub fn parse_scenario(plan: &str, file: &str, text: &str) -> Result<Loaded, LoadError> {
    parse_scenario_with(plan, file, text, &builtin_catalog())
}

/// Parses and validates one scenario file against `catalog`. `file` is used in messages and
/// becomes [`Scenario::source`].
pub fn parse_scenario_with(plan: &str, file: &str, text: &str, catalog: &[StepDef<'_>]) -> Result<Loaded, LoadError> {
    let values: Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        LoadError::Syntax { file: file.to_string(), line, column, message: e.message().trim().to_string() }
    })?;
    let spans = DeTable::parse(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        LoadError::Syntax { file: file.to_string(), line, column, message: e.message().trim().to_string() }
    })?;
    let cx = Cx { file, text };
    cx.scenario(plan, &values, spans.get_ref(), catalog)
}

struct Cx<'a> {
    file: &'a str,
    text: &'a str,
}

type Spans<'i> = DeTable<'i>;
/// String list entries with the byte span of each.
type SpannedStrings = Vec<(String, Range<usize>)>;

fn one_of(values: &[&str]) -> String {
    values.join(", ")
}

impl Cx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            file: self.file.to_string(),
            line: line_col(self.text, span.start).0,
            message: message.into(),
        }
    }

    fn key_span(spans: &Spans<'_>, key: &str) -> Range<usize> {
        spans.get_key_value(key).map_or(0..0, |(k, _)| k.span())
    }

    fn string(&self, spans: &Spans<'_>, values: &Table, key: &str, what: &str) -> Result<Option<String>, LoadError> {
        match values.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(Value::String(_)) => {
                Err(self.err(Self::key_span(spans, key), format!("`{key}` is empty; expected {what}")))
            }
            Some(other) => {
                Err(self.err(Self::key_span(spans, key), format!("`{key}` is a {}; expected {what}", other.type_str())))
            }
        }
    }

    /// A list of non-empty strings, each with the span of its element.
    fn strings(
        &self,
        spans: &Spans<'_>,
        values: &Table,
        key: &str,
        what: &str,
    ) -> Result<Option<SpannedStrings>, LoadError> {
        let Some(value) = values.get(key) else { return Ok(None) };
        let key_span = Self::key_span(spans, key);
        let Value::Array(items) = value else {
            return Err(self.err(key_span, format!("`{key}` is a {}; expected a list of {what}", value.type_str())));
        };
        let item_spans: Vec<Range<usize>> = match spans.get(key).map(Spanned::get_ref) {
            Some(DeValue::Array(a)) => a.iter().map(Spanned::span).collect(),
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let span = item_spans.get(i).cloned().unwrap_or_else(|| key_span.clone());
            match item {
                Value::String(s) if !s.trim().is_empty() => out.push((s.clone(), span)),
                Value::String(_) => return Err(self.err(span, format!("`{key}` has an empty entry; expected {what}"))),
                other => {
                    return Err(self.err(span, format!("`{key}` has a {} entry; expected {what}", other.type_str())));
                }
            }
        }
        Ok(Some(out))
    }

    fn format(&self, values: &Table, spans: &Spans<'_>) -> Result<(), LoadError> {
        match values.get("format") {
            None => Err(self.err(0..0, format!("missing key `format`; expected format = {FORMAT_VERSION}"))),
            Some(Value::Integer(n)) if *n == i64::from(FORMAT_VERSION) => Ok(()),
            Some(other) => Err(self.err(
                Self::key_span(spans, "format"),
                format!("unsupported format {other}; expected format = {FORMAT_VERSION}"),
            )),
        }
    }

    /// One of `all` by name, for a plan setting.
    fn choice<T: Copy>(
        &self,
        spans: &Spans<'_>,
        values: &Table,
        key: &str,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<Option<T>, LoadError> {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        let Some(value) = self.string(spans, values, key, &format!("one of: {}", one_of(&names)))? else { return Ok(None) };
        all.iter().copied().find(|v| name(*v) == value).map(Some).ok_or_else(|| {
            self.err(Self::key_span(spans, key), format!("unknown {key} {value:?}; expected one of: {}", one_of(&names)))
        })
    }

    fn plan_file(&self, values: &Table, spans: &Spans<'_>) -> Result<PlanFile, LoadError> {
        for (key, _) in spans.iter() {
            if !PLAN_KEYS.contains(&key.get_ref().as_ref()) {
                return Err(self.err(
                    key.span(),
                    format!("unknown key {:?} in {PLAN_FILE}; expected one of: {}", key.get_ref(), one_of(PLAN_KEYS)),
                ));
            }
        }
        self.format(values, spans)?;
        let include = self
            .strings(spans, values, "include", "plan names")?
            .unwrap_or_default()
            .into_iter()
            .map(|(name, span)| (name, line_col(self.text, span.start).0))
            .collect();
        let messages = Messages {
            request: self.choice(spans, values, "request_method", &RequestMethod::ALL, RequestMethod::as_str)?.unwrap_or_default(),
            response: self.choice(spans, values, "response_mode", &ResponseMode::ALL, ResponseMode::as_str)?.unwrap_or_default(),
            profile: self.choice(spans, values, "security_profile", &SecurityProfile::ALL, SecurityProfile::as_str)?.unwrap_or_default(),
        };
        let axes = self.variant_axes(values, spans)?;
        for (key, varied) in [("request_method", axes.request_method.is_some()), ("response_mode", axes.response_mode.is_some())] {
            if varied && values.contains_key(key) {
                return Err(self.err(
                    Self::key_span(spans, key),
                    format!("{key} is both a plan setting and a [variants] axis; expected one of them"),
                ));
            }
        }
        Ok(PlanFile {
            path: self.file.to_string(),
            title: self.string(spans, values, "title", "a one-line title")?,
            include,
            messages,
            axes,
            requires: self.requires(values, spans)?,
        })
    }

    /// `[variants]` of a `plan.toml`: each key lists the values of one axis; `client_auth`,
    /// `sender` and `openid` default to all their values, `request_method` and `response_mode`
    /// become axes only when listed.
    fn variant_axes(&self, values: &Table, spans: &Spans<'_>) -> Result<VariantAxes, LoadError> {
        let mut axes = VariantAxes::default();
        let Some(value) = values.get("variants") else { return Ok(axes) };
        let Value::Table(table) = value else {
            return Err(self.err(
                Self::key_span(spans, "variants"),
                format!("`variants` is a {}; expected a table of axes ({})", value.type_str(), one_of(APPLIES_KEYS)),
            ));
        };
        let Some(DeValue::Table(sub)) = spans.get("variants").map(Spanned::get_ref) else {
            return Err(self.err(Self::key_span(spans, "variants"), "`variants` must be a table"));
        };
        for (key, _) in sub.iter() {
            if !APPLIES_KEYS.contains(&key.get_ref().as_ref()) {
                return Err(self.err(
                    key.span(),
                    format!("unknown key {:?} in [variants]; expected one of: {}", key.get_ref(), one_of(APPLIES_KEYS)),
                ));
            }
        }
        if let Some(v) = self.axis(table, sub, "variants", "client_auth", &ClientAuth::ALL, ClientAuth::as_str)? {
            axes.client_auth = v;
        }
        if let Some(v) = self.axis(table, sub, "variants", "sender", &Sender::ALL, Sender::as_str)? {
            axes.sender = v;
        }
        if let Some(v) = self.axis(table, sub, "variants", "openid", &OpenId::ALL, OpenId::as_str)? {
            axes.openid = v;
        }
        axes.request_method = self.axis(table, sub, "variants", "request_method", &RequestMethod::ALL, RequestMethod::as_str)?;
        axes.response_mode = self.axis(table, sub, "variants", "response_mode", &ResponseMode::ALL, ResponseMode::as_str)?;
        Ok(axes)
    }

    /// One axis of `[applies]` or `[variants]` (`section`): a non-empty list of known values,
    /// each once.
    fn axis<T: Copy + PartialEq>(
        &self,
        table: &Table,
        sub: &Spans<'_>,
        section: &str,
        key: &str,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<Option<Vec<T>>, LoadError> {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        let Some(items) = self.strings(sub, table, key, &format!("{key} values ({})", one_of(&names)))? else {
            return Ok(None);
        };
        if items.is_empty() {
            let message = if section == "applies" {
                format!("`applies.{key}` is empty, so the module would never run; expected some of: {}", one_of(&names))
            } else {
                format!("`{section}.{key}` is empty, so the plan would never run; expected some of: {}", one_of(&names))
            };
            return Err(self.err(Self::key_span(sub, key), message));
        }
        let mut out = Vec::new();
        for (item, span) in items {
            let Some(v) = all.iter().copied().find(|v| name(*v) == item) else {
                return Err(self.err(span, format!("unknown {key} value {item:?} in [{section}]; expected one of: {}", one_of(&names))));
            };
            if out.contains(&v) {
                return Err(self.err(span, format!("{key} value {item:?} listed twice in [{section}]")));
            }
            out.push(v);
        }
        Ok(Some(out))
    }

    fn scenario(
        &self,
        plan: &str,
        values: &Table,
        spans: &Spans<'_>,
        catalog: &[StepDef<'_>],
    ) -> Result<Loaded, LoadError> {
        // Unknown keys first: a typo explains the "missing key" that would follow.
        for (key, _) in spans.iter() {
            if !TOP_KEYS.contains(&key.get_ref().as_ref()) {
                return Err(self.err(
                    key.span(),
                    format!("unknown key {:?}; expected one of: {}", key.get_ref(), one_of(TOP_KEYS)),
                ));
            }
        }

        self.format(values, spans)?;

        let module = self
            .string(spans, values, "module", "a module name")?
            .ok_or_else(|| self.err(0..0, "missing key `module`; expected a module name unique within the plan"))?;
        let module_span = Self::key_span(spans, "module");
        if let Some(bad) = module.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
            return Err(self.err(
                module_span,
                format!("module name {module:?} contains {bad:?}; expected letters, digits, '-', '_' or '.'"),
            ));
        }
        let title = self
            .string(spans, values, "title", "a one-line title")?
            .ok_or_else(|| self.err(0..0, "missing key `title`; expected a one-line title"))?;
        let requirements: Vec<String> = self
            .strings(spans, values, "requirements", "requirement ids")?
            .ok_or_else(|| self.err(0..0, "missing key `requirements`; expected a non-empty list of requirement ids"))?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        if requirements.is_empty() {
            return Err(self.err(
                Self::key_span(spans, "requirements"),
                "`requirements` is empty; expected a non-empty list of requirement ids",
            ));
        }

        let applies = self.applies(values, spans)?;
        let requires = self.requires(values, spans)?;
        let steps = self.steps(values, spans, catalog)?;

        Ok(Loaded {
            scenario: Scenario {
                plan: plan.to_string(),
                module,
                title,
                requirements,
                applies,
                requires,
                steps,
                source: self.file.to_string(),
                messages: Messages::default(),
            },
            module_line: line_col(self.text, module_span.start).0,
        })
    }

    fn applies(&self, values: &Table, spans: &Spans<'_>) -> Result<Applies, LoadError> {
        let mut applies = Applies::default();
        let Some(value) = values.get("applies") else { return Ok(applies) };
        let Value::Table(table) = value else {
            return Err(self.err(
                Self::key_span(spans, "applies"),
                format!("`applies` is a {}; expected a table with some of: {}", value.type_str(), one_of(APPLIES_KEYS)),
            ));
        };
        let Some(DeValue::Table(sub)) = spans.get("applies").map(Spanned::get_ref) else {
            return Err(self.err(Self::key_span(spans, "applies"), "`applies` must be a table"));
        };
        for (key, _) in sub.iter() {
            if !APPLIES_KEYS.contains(&key.get_ref().as_ref()) {
                return Err(self.err(
                    key.span(),
                    format!("unknown key {:?} in [applies]; expected one of: {}", key.get_ref(), one_of(APPLIES_KEYS)),
                ));
            }
        }
        applies.client_auth = self.axis(table, sub, "applies", "client_auth", &ClientAuth::ALL, ClientAuth::as_str)?;
        applies.sender = self.axis(table, sub, "applies", "sender", &Sender::ALL, Sender::as_str)?;
        applies.openid = self.axis(table, sub, "applies", "openid", &OpenId::ALL, OpenId::as_str)?;
        applies.request_method = self.axis(table, sub, "applies", "request_method", &RequestMethod::ALL, RequestMethod::as_str)?;
        applies.response_mode = self.axis(table, sub, "applies", "response_mode", &ResponseMode::ALL, ResponseMode::as_str)?;
        Ok(applies)
    }

    fn requires(&self, values: &Table, spans: &Spans<'_>) -> Result<Requires, LoadError> {
        let mut requires = Requires::default();
        let Some(value) = values.get("requires") else { return Ok(requires) };
        let Value::Table(table) = value else {
            return Err(self.err(
                Self::key_span(spans, "requires"),
                format!("`requires` is a {}; expected a table with profile and/or features", value.type_str()),
            ));
        };
        let Some(DeValue::Table(sub)) = spans.get("requires").map(Spanned::get_ref) else {
            return Err(self.err(Self::key_span(spans, "requires"), "`requires` must be a table"));
        };
        for (key, _) in sub.iter() {
            if !REQUIRES_KEYS.contains(&key.get_ref().as_ref()) {
                return Err(self.err(
                    key.span(),
                    format!("unknown key {:?} in [requires]; expected one of: {}", key.get_ref(), one_of(REQUIRES_KEYS)),
                ));
            }
        }
        requires.profile = self.string(sub, table, "profile", "a workspace profile, e.g. \"fdx\"")?;
        let names: Vec<&str> = Feature::ALL.iter().map(|f| f.as_str()).collect();
        for (item, span) in self.strings(sub, table, "features", &format!("features ({})", one_of(&names)))?.unwrap_or_default() {
            let Some(f) = Feature::ALL.iter().copied().find(|f| f.as_str() == item) else {
                return Err(self.err(span, format!("unknown feature {item:?} in [requires]; expected one of: {}", one_of(&names))));
            };
            if !requires.features.contains(&f) {
                requires.features.push(f);
            }
        }
        Ok(requires)
    }

    fn steps(&self, values: &Table, spans: &Spans<'_>, catalog: &[StepDef<'_>]) -> Result<Vec<StepSpec>, LoadError> {
        let names: Vec<&str> = catalog.iter().map(|s| s.name).collect();
        let Some(value) = values.get("steps") else {
            return Err(self.err(0..0, "missing [[steps]]; expected at least one step"));
        };
        let steps_span = Self::key_span(spans, "steps");
        let Value::Array(items) = value else {
            return Err(self.err(steps_span, format!("`steps` is a {}; expected [[steps]] tables", value.type_str())));
        };
        if items.is_empty() {
            return Err(self.err(steps_span, "`steps` is empty; expected at least one [[steps]] entry"));
        }
        let item_spans: Vec<&Spanned<DeValue<'_>>> = match spans.get("steps").map(Spanned::get_ref) {
            Some(DeValue::Array(a)) => a.iter().collect(),
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let header = item_spans.get(i).map_or_else(|| steps_span.clone(), |s| s.span());
            let Value::Table(table) = item else {
                return Err(
                    self.err(header, format!("step {} is a {}; expected a [[steps]] table", i + 1, item.type_str()))
                );
            };
            let empty = DeTable::new();
            let sub = match item_spans.get(i).map(|s| s.get_ref()) {
                Some(DeValue::Table(t)) => t,
                _ => &empty,
            };
            out.push(self.step(i, header, table, sub, catalog, &names)?);
        }
        Ok(out)
    }

    fn step(
        &self,
        index: usize,
        header: Range<usize>,
        table: &Table,
        sub: &Spans<'_>,
        catalog: &[StepDef<'_>],
        names: &[&str],
    ) -> Result<StepSpec, LoadError> {
        let line = line_col(self.text, header.start).0;
        let name = match table.get("step") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(self.err(
                    Self::key_span(sub, "step"),
                    format!("`step` is a {}; expected a step name, one of: {}", other.type_str(), one_of(names)),
                ));
            }
            None => {
                return Err(self
                    .err(header, format!("step {} has no `step` key; expected one of: {}", index + 1, one_of(names))));
            }
        };
        let Some(def) = catalog.iter().find(|d| d.name == name) else {
            return Err(self.err(
                Self::key_span(sub, "step"),
                format!("unknown step {name:?}; expected one of: {}", one_of(names)),
            ));
        };

        let client = match table.get("client") {
            None => 1,
            Some(Value::Integer(1)) => 1,
            Some(Value::Integer(2)) => 2,
            Some(other) => {
                return Err(self.err(
                    Self::key_span(sub, "client"),
                    format!("client = {other} in step {name:?}; expected 1 or 2 (the target's two clients)"),
                ));
            }
        };

        let mut mutations = Vec::new();
        for (m, span) in self.strings(sub, table, "mutations", "mutation names")?.unwrap_or_default() {
            if !def.mutations.contains(&m.as_str()) {
                let expected = if def.mutations.is_empty() {
                    "step has no mutations".to_string()
                } else {
                    format!("expected one of: {}", one_of(def.mutations))
                };
                return Err(self.err(span, format!("unknown mutation {m:?} for step {name:?}; {expected}")));
            }
            if mutations.contains(&m) {
                return Err(self.err(span, format!("mutation {m:?} listed twice for step {name:?}")));
            }
            mutations.push(m);
        }

        let expect = match table.get("expect") {
            None => Expect::Success,
            Some(Value::String(s)) => match s.as_str() {
                "success" => Expect::Success,
                "rejected" => Expect::Rejected,
                "either" => Expect::Either,
                other => {
                    return Err(self.err(
                        Self::key_span(sub, "expect"),
                        format!(
                            "unknown expect {other:?} for step {name:?}; expected one of: {}",
                            one_of(EXPECT_VALUES)
                        ),
                    ));
                }
            },
            Some(other) => {
                return Err(self.err(
                    Self::key_span(sub, "expect"),
                    format!("`expect` is a {}; expected one of: {}", other.type_str(), one_of(EXPECT_VALUES)),
                ));
            }
        };

        let errors: Vec<String> = self
            .strings(sub, table, "errors", "error codes")?
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        if !errors.is_empty() && expect == Expect::Success {
            return Err(self.err(
                Self::key_span(sub, "errors"),
                format!("`errors` given for step {name:?}, which expects success; expected expect = \"rejected\" or \"either\""),
            ));
        }

        let mut params = Table::new();
        for (key, value) in table {
            if STEP_KEYS.contains(&key.as_str()) {
                continue;
            }
            if !def.params.contains(&key.as_str()) {
                let mut allowed: Vec<&str> = STEP_KEYS.to_vec();
                allowed.extend(def.params.iter().copied());
                return Err(self.err(
                    Self::key_span(sub, key),
                    format!("unknown key {key:?} for step {name:?}; expected one of: {}", one_of(&allowed)),
                ));
            }
            params.insert(key.clone(), value.clone());
        }

        Ok(StepSpec { step: name, client, mutations, expect, errors, params, line })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &[StepDef<'static>] = &[
        StepDef { name: "par", mutations: &["drop_pkce", "pkce_plain"], params: &["scope"] },
        StepDef { name: "authorize", mutations: &[], params: &[] },
        StepDef { name: "wait", mutations: &[], params: &["seconds"] },
    ];

    const GOOD: &str = r#"format = 1
module = "par-plain-pkce-rejected"
title = "PKCE method plain is refused at PAR"
requirements = ["FAPI2-SP-AZ-05", "PKCE-01"]

[applies]
client_auth = ["private_key_jwt"]
sender = ["dpop", "mtls"]

[[steps]]
step = "par"
client = 2
mutations = ["pkce_plain"]
expect = "rejected"
errors = ["invalid_request"]
scope = "accounts"

[[steps]]
step = "wait"
seconds = 1
"#;

    fn load(text: &str) -> Result<Loaded, LoadError> {
        parse_scenario_with("p", "scenarios/p/x.toml", text, CATALOG)
    }

    fn message(text: &str) -> String {
        match load(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_a_valid_file() {
        let loaded = load(GOOD).expect("valid");
        let s = loaded.scenario;
        assert_eq!(loaded.module_line, 2);
        assert_eq!(s.plan, "p");
        assert_eq!(s.module, "par-plain-pkce-rejected");
        assert_eq!(s.requirements, vec!["FAPI2-SP-AZ-05", "PKCE-01"]);
        assert_eq!(s.applies.client_auth, Some(vec![ClientAuth::PrivateKeyJwt]));
        assert_eq!(s.applies.sender, Some(vec![Sender::Dpop, Sender::Mtls]));
        assert_eq!(s.applies.openid, None);
        assert_eq!(s.steps.len(), 2);
        let par = &s.steps[0];
        assert_eq!((par.step.as_str(), par.client, par.expect, par.line), ("par", 2, Expect::Rejected, 10));
        assert_eq!(par.mutations, vec!["pkce_plain"]);
        assert_eq!(par.errors, vec!["invalid_request"]);
        assert_eq!(par.params.get("scope").and_then(Value::as_str), Some("accounts"));
        let wait = &s.steps[1];
        assert_eq!((wait.client, wait.expect, wait.line), (1, Expect::Success, 18));
        assert_eq!(wait.params.get("seconds").and_then(Value::as_integer), Some(1));
        assert_eq!(s.source, "scenarios/p/x.toml");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let m = message("format = 1\nmodule = = \"x\"\n");
        assert!(m.starts_with("scenarios/p/x.toml:2:10: invalid TOML"), "{m}");
    }

    #[test]
    fn unknown_top_level_key() {
        let m = message(&GOOD.replace("title =", "titel ="));
        assert!(m.starts_with("scenarios/p/x.toml:3: unknown key \"titel\"; expected one of: format,"), "{m}");
    }

    #[test]
    fn format_must_be_one() {
        let m = message(&GOOD.replace("format = 1", "format = 2"));
        assert!(m.starts_with("scenarios/p/x.toml:1: unsupported format 2; expected format = 1"), "{m}");
        let m = message(&GOOD.replace("format = 1\n", ""));
        assert!(m.contains("missing key `format`"), "{m}");
    }

    #[test]
    fn missing_and_empty_fields() {
        assert!(message(&GOOD.replace("module = \"par-plain-pkce-rejected\"\n", "")).contains("missing key `module`"));
        assert!(
            message(&GOOD.replace("title = \"PKCE method plain is refused at PAR\"", "title = \"\""))
                .contains(":3: `title` is empty")
        );
        let m = message(&GOOD.replace("[\"FAPI2-SP-AZ-05\", \"PKCE-01\"]", "[]"));
        assert!(m.starts_with("scenarios/p/x.toml:4: `requirements` is empty"), "{m}");
        let m = message(&GOOD.replace("[\"FAPI2-SP-AZ-05\", \"PKCE-01\"]", "\"FAPI2-SP-AZ-05\""));
        assert!(m.contains("`requirements` is a string; expected a list"), "{m}");
        let m = message(&GOOD.replace("module = \"par-plain-pkce-rejected\"", "module = \"a b\""));
        assert!(m.contains(":2: module name \"a b\" contains ' '"), "{m}");
        let m = message("format = 1\nmodule = \"m\"\ntitle = \"t\"\nrequirements = [\"R\"]\n");
        assert!(m.contains("missing [[steps]]"), "{m}");
    }

    #[test]
    fn unknown_axis_value_lists_allowed() {
        let m = message(&GOOD.replace("sender = [\"dpop\", \"mtls\"]", "sender = [\"dpop\", \"bearer\"]"));
        assert_eq!(
            m,
            "scenarios/p/x.toml:8: unknown sender value \"bearer\" in [applies]; expected one of: dpop, mtls"
        );
        let m = message(&GOOD.replace("sender = [\"dpop\", \"mtls\"]", "colour = [\"red\"]"));
        assert!(
            m.contains(":8: unknown key \"colour\" in [applies]; expected one of: client_auth, sender, openid"),
            "{m}"
        );
        let m = message(&GOOD.replace("sender = [\"dpop\", \"mtls\"]", "sender = []"));
        assert!(m.contains(":8: `applies.sender` is empty"), "{m}");
    }

    #[test]
    fn requires_names_a_profile_and_known_features() {
        let text = GOOD.replace("[[steps]]\nstep = \"par\"", "[requires]\nprofile = \"fdx\"\nfeatures = [\"registration\", \"fdx\"]\n\n[[steps]]\nstep = \"par\"");
        let loaded = load(&text).expect("valid");
        assert_eq!(loaded.scenario.requires.profile.as_deref(), Some("fdx"));
        assert_eq!(loaded.scenario.requires.features, vec![Feature::Registration, Feature::Fdx]);
        assert!(load(GOOD).expect("valid").scenario.requires.features.is_empty());
        let m = message(&text.replace("\"fdx\"]", "\"fdxx\"]"));
        assert!(m.contains("unknown feature \"fdxx\" in [requires]; expected one of: registration, fdx, dcr_manage, other_workspace"), "{m}");
        let m = message(&text.replace("profile =", "profil ="));
        assert!(m.contains("unknown key \"profil\" in [requires]; expected one of: profile, features"), "{m}");
    }

    #[test]
    fn unknown_step() {
        let m = message(&GOOD.replace("step = \"wait\"", "step = \"sleep\""));
        assert_eq!(m, "scenarios/p/x.toml:19: unknown step \"sleep\"; expected one of: par, authorize, wait");
        let m = message(&GOOD.replace("step = \"wait\"\n", ""));
        assert!(m.starts_with("scenarios/p/x.toml:18: step 2 has no `step` key"), "{m}");
    }

    #[test]
    fn unknown_mutation_lists_the_steps_mutations() {
        let m = message(&GOOD.replace("[\"pkce_plain\"]", "[\"pkce_plian\"]"));
        assert_eq!(
            m,
            "scenarios/p/x.toml:13: unknown mutation \"pkce_plian\" for step \"par\"; expected one of: drop_pkce, pkce_plain"
        );
    }

    #[test]
    fn bad_client_and_expect() {
        let m = message(&GOOD.replace("client = 2", "client = 3"));
        assert!(m.starts_with("scenarios/p/x.toml:12: client = 3 in step \"par\"; expected 1 or 2"), "{m}");
        let m = message(&GOOD.replace("expect = \"rejected\"", "expect = \"refused\""));
        assert!(m.starts_with("scenarios/p/x.toml:14: unknown expect \"refused\""), "{m}");
        assert!(m.ends_with("expected one of: success, rejected, either"), "{m}");
        let m = message(&GOOD.replace("expect = \"rejected\"\n", ""));
        assert!(m.starts_with("scenarios/p/x.toml:14: `errors` given for step \"par\", which expects success"), "{m}");
    }

    #[test]
    fn unknown_param_lists_the_steps_params() {
        let m = message(&GOOD.replace("seconds = 1", "secs = 1"));
        assert_eq!(
            m,
            "scenarios/p/x.toml:20: unknown key \"secs\" for step \"wait\"; expected one of: step, client, mutations, expect, errors, seconds"
        );
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\ncd", 99), (2, 3));
    }
}
