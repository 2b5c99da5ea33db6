//! Plans: one folder of scenario files each, `scenarios/<plan>/*.toml`.
//!
//! The built-in plans are embedded into the binary at compile time (see `build.rs`). A bank
//! runs its own files with `--scenarios DIR` ([`plans_from_dir`]): each `DIR/<plan>/*.toml`
//! folder is a plan, and `*.toml` directly in `DIR` make a plan named after the folder. Other
//! files (e.g. `README.md`) are ignored. [`builtin_plus_dir`] merges such a folder into the
//! built-in plans instead (by plan name; module names stay unique within a plan).

use std::collections::BTreeMap;
use std::path::Path;

use crate::load::{LoadError, StepDef, builtin_catalog, parse_scenario_with};
use crate::scenario::Scenario;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_scenarios.rs"));
}

/// A plan: its modules, sorted by file name.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub modules: Vec<Scenario>,
}

/// One scenario file before parsing.
#[derive(Debug, Clone)]
pub struct Source {
    pub plan: String,
    /// The file name, which orders the plan's modules.
    pub file_name: String,
    /// How messages name the file, e.g. `scenarios/fapi2-security-profile/x.toml`.
    pub path: String,
    pub text: String,
}

/// The scenario files compiled into the binary.
pub fn builtin_sources() -> Vec<Source> {
    embedded::EMBEDDED_SCENARIOS
        .iter()
        .map(|(plan, file, text)| Source {
            plan: (*plan).to_string(),
            file_name: (*file).to_string(),
            path: format!("scenarios/{plan}/{file}"),
            text: (*text).to_string(),
        })
        .collect()
}

/// The built-in plans.
pub fn builtin_plans() -> Result<Vec<Plan>, LoadError> {
    plans_from_sources(&builtin_sources(), &builtin_catalog())
}

/// Only the plans found in `dir` (see the module documentation for the layout).
pub fn plans_from_dir(dir: &Path) -> Result<Vec<Plan>, LoadError> {
    plans_from_sources(&dir_sources(dir)?, &builtin_catalog())
}

/// The built-in plans plus the files in `dir`, merged by plan name (a module name must stay
/// unique within its plan).
pub fn builtin_plus_dir(dir: &Path) -> Result<Vec<Plan>, LoadError> {
    let mut sources = builtin_sources();
    sources.extend(dir_sources(dir)?);
    plans_from_sources(&sources, &builtin_catalog())
}

fn is_scenario_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    path.is_file() && name.ends_with(".toml") && !name.starts_with('.')
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<std::path::PathBuf>, LoadError> {
    let io = |source| LoadError::Io { path: dir.display().to_string(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        paths.push(entry.map_err(io)?.path());
    }
    paths.sort();
    Ok(paths)
}

fn read_source(plan: &str, path: &Path) -> Result<Source, LoadError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: path.display().to_string(), source })?;
    Ok(Source {
        plan: plan.to_string(),
        file_name: path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string(),
        path: path.display().to_string(),
        text,
    })
}

fn dir_name(path: &Path) -> Result<String, LoadError> {
    // `canonicalize` so that `.` and `..` get their real names.
    let real =
        std::fs::canonicalize(path).map_err(|source| LoadError::Io { path: path.display().to_string(), source })?;
    real.file_name().and_then(|n| n.to_str()).map(str::to_string).ok_or_else(|| LoadError::Plan {
        path: path.display().to_string(),
        message: "cannot name a plan after this folder".to_string(),
    })
}

/// The scenario files under `dir`: `dir/<plan>/*.toml` and `dir/*.toml` (plan named after `dir`).
pub fn dir_sources(dir: &Path) -> Result<Vec<Source>, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::Plan {
            path: dir.display().to_string(),
            message: "not a folder; expected a folder of <plan>/*.toml scenario files".to_string(),
        });
    }
    let mut sources = Vec::new();
    for path in read_dir_sorted(dir)? {
        if is_scenario_file(&path) {
            sources.push(read_source(&dir_name(dir)?, &path)?);
        } else if path.is_dir() {
            let plan = dir_name(&path)?;
            if plan.starts_with('.') {
                continue;
            }
            for file in read_dir_sorted(&path)? {
                if is_scenario_file(&file) {
                    sources.push(read_source(&plan, &file)?);
                }
            }
        }
    }
    if sources.is_empty() {
        return Err(LoadError::Plan {
            path: dir.display().to_string(),
            message: "no scenario files; expected <plan>/*.toml (or *.toml) in this folder".to_string(),
        });
    }
    Ok(sources)
}

/// Parses every source and groups them into plans sorted by name, modules sorted by file name.
/// A module name used twice within a plan is an error naming both files.
pub fn plans_from_sources(sources: &[Source], catalog: &[StepDef<'_>]) -> Result<Vec<Plan>, LoadError> {
    let mut by_plan: BTreeMap<&str, Vec<&Source>> = BTreeMap::new();
    for s in sources {
        by_plan.entry(s.plan.as_str()).or_default().push(s);
    }
    let mut plans = Vec::with_capacity(by_plan.len());
    // Every bad file is reported at once, not one per run.
    let mut errors = Vec::new();
    for (name, mut files) in by_plan {
        files.sort_by(|a, b| a.file_name.cmp(&b.file_name).then_with(|| a.path.cmp(&b.path)));
        let mut modules: Vec<Scenario> = Vec::with_capacity(files.len());
        let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
        for file in files {
            let loaded = match parse_scenario_with(name, &file.path, &file.text, catalog) {
                Ok(l) => l,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let module = loaded.scenario.module.clone();
            if let Some((other, other_line)) = seen.get(&module) {
                errors.push(LoadError::Invalid {
                    file: file.path.clone(),
                    line: loaded.module_line,
                    message: format!(
                        "duplicate module {module:?} in plan {name:?}; also defined at {other}:{other_line}; expected module names unique within a plan"
                    ),
                });
                continue;
            }
            seen.insert(module, (file.path.clone(), loaded.module_line));
            modules.push(loaded.scenario);
        }
        plans.push(Plan { name: name.to_string(), modules });
    }
    match LoadError::combine(errors) {
        Some(e) => Err(e),
        None => Ok(plans),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &[StepDef<'static>] = &[StepDef { name: "wait", mutations: &[], params: &["seconds"] }];

    fn source(plan: &str, file: &str, module: &str) -> Source {
        Source {
            plan: plan.to_string(),
            file_name: file.to_string(),
            path: format!("scenarios/{plan}/{file}"),
            text: format!(
                "format = 1\nmodule = \"{module}\"\ntitle = \"t\"\nrequirements = [\"R-1\"]\n\n[[steps]]\nstep = \"wait\"\nseconds = 0\n"
            ),
        }
    }

    #[test]
    fn groups_by_plan_sorted_by_file_name() {
        let plans = plans_from_sources(
            &[source("b", "2.toml", "two"), source("b", "1.toml", "one"), source("a", "x.toml", "x")],
            CATALOG,
        )
        .expect("plans");
        let names: Vec<_> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b"]);
        let modules: Vec<_> = plans[1].modules.iter().map(|m| m.module.as_str()).collect();
        assert_eq!(modules, vec!["one", "two"]);
        assert_eq!(plans[1].modules[0].plan, "b");
    }

    #[test]
    fn duplicate_module_names_are_an_error() {
        let err = plans_from_sources(&[source("a", "1.toml", "same"), source("a", "2.toml", "same")], CATALOG)
            .expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "scenarios/a/2.toml:2: duplicate module \"same\" in plan \"a\"; also defined at scenarios/a/1.toml:2; expected module names unique within a plan"
        );
        // Every bad file is reported, not just the first.
        let mut bad = source("a", "3.toml", "three");
        bad.text = bad.text.replace("format = 1", "format = 2");
        let err = plans_from_sources(&[source("a", "1.toml", "same"), source("a", "2.toml", "same"), bad], CATALOG)
            .expect_err("two errors");
        assert!(matches!(&err, LoadError::Many(v) if v.len() == 2), "{err}");
        assert_eq!(err.to_string().lines().count(), 2, "{err}");
        // The same name in two plans is fine.
        plans_from_sources(&[source("a", "1.toml", "same"), source("b", "1.toml", "same")], CATALOG)
            .expect("two plans");
    }

    #[test]
    fn reads_a_folder_and_ignores_other_files() {
        let dir = std::env::temp_dir().join(format!("fapilab-plan-test-{}", std::process::id()));
        let plan_dir = dir.join("bank-plan");
        std::fs::create_dir_all(&plan_dir).expect("mkdir");
        std::fs::write(dir.join("README.md"), "# not a scenario").expect("write");
        let s = source("bank-plan", "a.toml", "bank-one");
        std::fs::write(plan_dir.join("a.toml"), &s.text).expect("write");
        std::fs::write(plan_dir.join("notes.txt"), "ignored").expect("write");
        let sources = dir_sources(&dir).expect("sources");
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].plan, "bank-plan");
        let plans = plans_from_sources(&sources, CATALOG).expect("plans");
        assert_eq!(plans[0].modules[0].module, "bank-one");

        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        assert!(dir_sources(&empty).expect_err("empty").to_string().contains("no scenario files"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
