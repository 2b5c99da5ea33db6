//! Plans: one folder of scenario files each, `scenarios/<plan>/*.toml`.
//!
//! A folder's `plan.toml` (optional, format in `scenarios/README.md`) sets the plan's title,
//! the plans it includes — their module files run again as modules of this plan, so the
//! FAPI 2.0 Message Signing plan is the Security Profile plan's modules without copying them —
//! how every module sends authorization requests and receives responses
//! ([`crate::scenario::Messages`]: plain or signed request objects, plain or JARM responses),
//! and a `[requires]` for every module (the workspace profile the plan runs against).
//!
//! The built-in plans are embedded into the binary at compile time (see `build.rs`). A bank
//! runs its own files with `--scenarios DIR` ([`plans_from_dir`]): each `DIR/<plan>/*.toml`
//! folder is a plan, and `*.toml` directly in `DIR` make a plan named after the folder. Other
//! files (e.g. `README.md`) are ignored. [`builtin_plus_dir`] merges such a folder into the
//! built-in plans instead (by plan name; module names stay unique within a plan).

use std::collections::BTreeMap;
use std::path::Path;

use crate::load::{LoadError, PLAN_FILE, PlanFile, StepDef, builtin_catalog, parse_plan_file, parse_scenario_with};
use crate::scenario::{Expect, Messages, RequestMethod, ResponseMode, Scenario};
use crate::variant::{Variant, VariantAxes};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_scenarios.rs"));
}

/// A plan: its modules (its own and those of the plans it includes), sorted by file name.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// From its `plan.toml`, if any.
    pub title: Option<String>,
    /// The plans whose module files it runs too (`include` in its `plan.toml`).
    pub includes: Vec<String>,
    /// How every module of the plan sends requests and receives responses (where its variants
    /// do not say).
    pub messages: Messages,
    /// Its variant axes (`[variants]` in its `plan.toml`; default: the eight FAPI 2.0 variants).
    pub axes: VariantAxes,
    pub modules: Vec<Scenario>,
}

impl Plan {
    /// Every variant of the plan.
    pub fn variants(&self) -> Vec<Variant> {
        self.axes.variants()
    }

    /// The module runs of the plan over all its variants.
    pub fn runs(&self) -> usize {
        let variants = self.variants();
        self.modules.iter().map(|m| variants.iter().filter(|v| m.applies_to(v)).count()).sum()
    }
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

/// One module file as parsed, with what orders it within its plan.
struct Parsed {
    file_name: String,
    path: String,
    module_line: usize,
    scenario: Scenario,
}

/// Parses every source and groups them into plans sorted by name, modules sorted by file name.
/// A `plan.toml` ([`PLAN_FILE`]) sets the plan's settings: the plans it includes (their own
/// module files, run again with this plan's settings), its [`crate::scenario::Messages`] and a
/// `[requires]` applied to every module. A module name used twice within a plan is an error
/// naming both files; so is a mutation the plan's settings give nothing to change.
pub fn plans_from_sources(sources: &[Source], catalog: &[StepDef<'_>]) -> Result<Vec<Plan>, LoadError> {
    // Every bad file is reported at once, not one per run.
    let mut errors = Vec::new();
    let mut settings: BTreeMap<&str, PlanFile> = BTreeMap::new();
    let mut own: BTreeMap<&str, Vec<Parsed>> = BTreeMap::new();
    for s in sources {
        if s.file_name == PLAN_FILE {
            match parse_plan_file(&s.path, &s.text) {
                Ok(file) => {
                    if let Some(other) = settings.get(s.plan.as_str()) {
                        errors.push(LoadError::Plan {
                            path: s.path.clone(),
                            message: format!("plan {:?} already has a {PLAN_FILE} ({}); expected one", s.plan, other.path),
                        });
                    } else {
                        settings.insert(&s.plan, file);
                    }
                }
                Err(e) => errors.push(e),
            }
            continue;
        }
        own.entry(&s.plan).or_default();
        match parse_scenario_with(&s.plan, &s.path, &s.text, catalog) {
            Ok(l) => own.entry(&s.plan).or_default().push(Parsed {
                file_name: s.file_name.clone(),
                path: s.path.clone(),
                module_line: l.module_line,
                scenario: l.scenario,
            }),
            Err(e) => errors.push(e),
        }
    }
    let mut names: Vec<&str> = own.keys().chain(settings.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();

    let mut plans = Vec::with_capacity(names.len());
    for name in names {
        let file = settings.get(name).cloned().unwrap_or_default();
        let mut modules: Vec<(String, String, usize, Scenario)> = Vec::new();
        for p in own.get(name).into_iter().flatten() {
            if let (Some(plan_profile), Some(module_profile)) = (&file.requires.profile, &p.scenario.requires.profile)
                && plan_profile != module_profile
            {
                errors.push(LoadError::Invalid {
                    file: p.path.clone(),
                    line: p.module_line,
                    message: format!(
                        "[requires] profile {module_profile:?}, but {} sets profile {plan_profile:?} for every module of plan {name:?}; expected no profile or {plan_profile:?}",
                        file.path
                    ),
                });
                continue;
            }
            modules.push((p.file_name.clone(), p.path.clone(), p.module_line, p.scenario.clone()));
        }
        for (included, line) in &file.include {
            let problem = if included == name {
                Some("a plan cannot include itself".to_owned())
            } else if settings.get(included.as_str()).is_some_and(|f| !f.include.is_empty()) {
                Some(format!("plan {included:?} includes other plans itself; expected a plan of its own module files only"))
            } else if !own.contains_key(included.as_str()) {
                let known: Vec<&str> = own.keys().filter(|k| **k != name).copied().collect();
                Some(format!("unknown plan {included:?}; expected one of: {}", known.join(", ")))
            } else {
                None
            };
            if let Some(message) = problem {
                errors.push(LoadError::Invalid { file: file.path.clone(), line: *line, message });
                continue;
            }
            for p in own.get(included.as_str()).into_iter().flatten() {
                modules.push((p.file_name.clone(), p.path.clone(), p.module_line, p.scenario.clone()));
            }
        }
        if !own.contains_key(name) && file.include.is_empty() {
            errors.push(LoadError::Plan {
                path: file.path.clone(),
                message: format!("plan {name:?} has no modules; expected module files or an `include`"),
            });
        }
        modules.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));

        let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
        let mut scenarios = Vec::with_capacity(modules.len());
        for (_, path, module_line, mut scenario) in modules {
            if let Some((other, other_line)) = seen.get(&scenario.module) {
                errors.push(LoadError::Invalid {
                    file: path.clone(),
                    line: module_line,
                    message: format!(
                        "duplicate module {:?} in plan {name:?}; also defined at {other}:{other_line}; expected module names unique within a plan",
                        scenario.module
                    ),
                });
                continue;
            }
            seen.insert(scenario.module.clone(), (path.clone(), module_line));
            scenario.plan = name.to_string();
            scenario.messages = file.messages;
            if file.requires.profile.is_some() {
                scenario.requires.profile.clone_from(&file.requires.profile);
            }
            for f in &file.requires.features {
                if !scenario.requires.features.contains(f) {
                    scenario.requires.features.push(*f);
                }
            }
            errors.extend(mutations_without_effect(&scenario, name, &file));
            if !file.axes.variants().iter().any(|v| scenario.applies_to(v)) {
                errors.push(LoadError::Invalid {
                    file: scenario.source.clone(),
                    line: module_line,
                    message: format!(
                        "module {:?} applies to no variant of plan {name:?} ({}); expected an [applies] that matches one",
                        scenario.module,
                        file.axes.label()
                    ),
                });
            }
            scenarios.push(scenario);
        }
        plans.push(Plan {
            name: name.to_string(),
            title: file.title.clone(),
            includes: file.include.iter().map(|(n, _)| n.clone()).collect(),
            messages: file.messages,
            axes: file.axes.clone(),
            modules: scenarios,
        });
    }
    match LoadError::combine(errors) {
        Some(e) => Err(e),
        None => Ok(plans),
    }
}

/// A step mutation that only changes a signed request object or a JARM request in a variant
/// of the plan that sends neither: the module would run the unchanged request and prove
/// nothing. And a `par` step that must be refused in a variant that sends its request by
/// value: nothing is pushed there, so only the `authorize` step after it can see a refusal.
fn mutations_without_effect(scenario: &Scenario, plan: &str, file: &PlanFile) -> Vec<LoadError> {
    let mut out = Vec::new();
    let at = if file.path.is_empty() { format!("a {PLAN_FILE}") } else { file.path.clone() };
    let runs: Vec<Messages> = file.axes.variants().iter().filter(|v| scenario.applies_to(v)).map(|v| scenario.messages.for_variant(v)).collect();
    for step in &scenario.steps {
        for m in &step.mutations {
            let needs = runs.iter().find_map(|messages| {
                if !messages.request.signed() && crate::mutations::SIGNED_ONLY.contains(&m.as_str()) {
                    Some(("request_method = \"signed\" or \"by_value\"", *messages))
                } else if messages.response != ResponseMode::Jarm && crate::mutations::JARM_ONLY.contains(&m.as_str()) {
                    Some(("response_mode = \"jarm\"", *messages))
                } else if messages.response == ResponseMode::Plain && crate::mutations::JARM_OR_HYBRID.contains(&m.as_str()) {
                    Some(("response_mode = \"jarm\" or \"hybrid\"", *messages))
                } else {
                    None
                }
            });
            if let Some((needs, messages)) = needs {
                out.push(LoadError::Invalid {
                    file: scenario.source.clone(),
                    line: step.line,
                    message: format!(
                        "mutation {m:?} of step {:?} changes nothing in plan {plan:?} ({}); expected {needs} in {at}, or an [applies] that excludes it",
                        step.step,
                        messages.label()
                    ),
                });
            }
        }
        if step.step == "par" && step.expect == Expect::Rejected && runs.iter().any(|m| m.request == RequestMethod::ByValue) {
            out.push(LoadError::Invalid {
                file: scenario.source.clone(),
                line: step.line,
                message: format!(
                    "step \"par\" expects a refusal, but plan {plan:?} sends requests by value, where nothing is pushed; \
                     expected expect = \"either\" and an `authorize` step that expects the refusal, or an [applies] without by_value"
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &[StepDef<'static>] = &[
        StepDef { name: "wait", mutations: &[], params: &["seconds"] },
        StepDef { name: "par", mutations: &["pkce_plain", "request_object_no_aud", "response_mode_query"], params: &[] },
    ];

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

    fn plan_file(plan: &str, text: &str) -> Source {
        Source { plan: plan.into(), file_name: PLAN_FILE.into(), path: format!("scenarios/{plan}/{PLAN_FILE}"), text: text.into() }
    }

    fn with_par(mut s: Source, mutation: &str) -> Source {
        s.text.push_str(&format!("\n[[steps]]\nstep = \"par\"\nmutations = [\"{mutation}\"]\nexpect = \"rejected\"\n"));
        s
    }

    const MS: &str = "format = 1\ntitle = \"Message Signing\"\ninclude = [\"sp\"]\nrequest_method = \"signed\"\nresponse_mode = \"jarm\"\n\n[requires]\nprofile = \"fapi2-message-signing\"\n";

    #[test]
    fn a_plan_file_includes_another_plans_modules_with_its_settings() {
        let sources = [
            source("sp", "1.toml", "pkce"),
            source("sp", "2.toml", "happy"),
            plan_file("ms", MS),
            with_par(source("ms", "0.toml", "no-aud"), "request_object_no_aud"),
        ];
        let plans = plans_from_sources(&sources, CATALOG).expect("plans");
        let ms = plans.iter().find(|p| p.name == "ms").expect("ms");
        let names: Vec<_> = ms.modules.iter().map(|m| m.module.as_str()).collect();
        assert_eq!(names, vec!["no-aud", "pkce", "happy"], "sorted by file name");
        assert_eq!(ms.includes, vec!["sp"]);
        assert_eq!(ms.title.as_deref(), Some("Message Signing"));
        for m in &ms.modules {
            assert_eq!(m.plan, "ms");
            assert_eq!((m.messages.request, m.messages.response), (RequestMethod::Signed, ResponseMode::Jarm));
            assert_eq!(m.requires.profile.as_deref(), Some("fapi2-message-signing"));
        }
        // The included plan itself is unchanged.
        let sp = plans.iter().find(|p| p.name == "sp").expect("sp");
        assert!(sp.modules.iter().all(|m| m.plan == "sp" && m.messages == Messages::default() && m.requires.profile.is_none()));
        // Its modules keep their own files.
        assert_eq!(ms.modules[1].source, "scenarios/sp/1.toml");
    }

    #[test]
    fn plan_file_errors_name_the_file_and_line() {
        let err = |sources: &[Source]| plans_from_sources(sources, CATALOG).expect_err("an error").to_string();
        let e = err(&[source("sp", "1.toml", "a"), plan_file("ms", &MS.replace("[\"sp\"]", "[\"spp\"]"))]);
        assert_eq!(e, "scenarios/ms/plan.toml:3: unknown plan \"spp\"; expected one of: sp");
        let e = err(&[source("sp", "1.toml", "a"), plan_file("ms", &MS.replace("\"signed\"", "\"sealed\""))]);
        assert!(e.starts_with("scenarios/ms/plan.toml:4: unknown request_method \"sealed\"; expected one of: unsigned, signed"), "{e}");
        let e = err(&[source("sp", "1.toml", "a"), plan_file("ms", &format!("colour = 1\n{MS}"))]);
        assert!(e.contains("unknown key \"colour\" in plan.toml"), "{e}");
        // The same module name in the plan and in the plan it includes.
        let e = err(&[source("sp", "1.toml", "a"), plan_file("ms", MS), source("ms", "1.toml", "a")]);
        assert!(e.contains("duplicate module \"a\" in plan \"ms\""), "{e}");
        // A module of the plan naming another profile than the plan's.
        let mut own = source("ms", "0.toml", "b");
        own.text = own.text.replace("[[steps]]", "[requires]\nprofile = \"fdx\"\n\n[[steps]]");
        let e = err(&[source("sp", "1.toml", "a"), plan_file("ms", MS), own]);
        assert!(e.contains("sets profile \"fapi2-message-signing\" for every module"), "{e}");
        // Only one level of inclusion, and never itself.
        let e = err(&[source("sp", "1.toml", "a"), plan_file("ms", MS), plan_file("x", &MS.replace("[\"sp\"]", "[\"ms\"]"))]);
        assert!(e.contains("plan \"ms\" includes other plans itself"), "{e}");
        let e = err(&[source("sp", "1.toml", "a"), plan_file("sp", MS)]);
        assert!(e.contains("a plan cannot include itself"), "{e}");
        let e = err(&[plan_file("lonely", "format = 1\n")]);
        assert!(e.contains("plan \"lonely\" has no modules"), "{e}");
    }

    #[test]
    fn a_mutation_the_plan_gives_nothing_to_change_is_an_error() {
        let e = plans_from_sources(&[with_par(source("sp", "1.toml", "a"), "request_object_no_aud")], CATALOG)
            .expect_err("unsigned plan")
            .to_string();
        assert!(
            e.starts_with("scenarios/sp/1.toml:10: mutation \"request_object_no_aud\" of step \"par\" changes nothing in plan \"sp\""),
            "{e}"
        );
        assert!(e.ends_with("expected request_method = \"signed\" or \"by_value\" in a plan.toml, or an [applies] that excludes it"), "{e}");
        let e = plans_from_sources(&[with_par(source("sp", "1.toml", "a"), "response_mode_query")], CATALOG).expect_err("plain").to_string();
        assert!(e.contains("expected response_mode = \"jarm\""), "{e}");
        // The same files are fine in a plan that signs and asks for JARM.
        let ok = [plan_file("sp", &MS.replace("include = [\"sp\"]\n", "")), with_par(source("sp", "1.toml", "a"), "response_mode_query")];
        plans_from_sources(&ok, CATALOG).expect("a signed JARM plan");
    }

    const FAPI1: &str = "format = 1\nsecurity_profile = \"fapi1-advanced\"\n\n[variants]\nsender = [\"mtls\"]\nopenid = [\"openid_connect\"]\nrequest_method = [\"by_value\", \"signed\"]\nresponse_mode = [\"hybrid\", \"jarm\"]\n";

    #[test]
    fn a_plan_declares_its_variant_axes() {
        let mut pushed_only = source("f1", "2.toml", "pushed-only");
        pushed_only.text = pushed_only.text.replace("[[steps]]", "[applies]\nrequest_method = [\"signed\"]\n\n[[steps]]");
        let plans = plans_from_sources(&[plan_file("f1", FAPI1), source("f1", "1.toml", "everywhere"), pushed_only], CATALOG).expect("plans");
        let f1 = &plans[0];
        assert_eq!(f1.variants().len(), 8);
        assert_eq!(f1.messages.profile, crate::scenario::SecurityProfile::Fapi1Advanced);
        assert_eq!(f1.runs(), 8 + 4);
        let by_value_hybrid = f1.variants()[0];
        assert_eq!(by_value_hybrid.label(), "client_auth=private_key_jwt,sender=mtls,openid=openid_connect,request_method=by_value,response_mode=hybrid");
        let m = f1.modules[0].messages.for_variant(&by_value_hybrid);
        assert_eq!((m.request, m.response), (RequestMethod::ByValue, ResponseMode::Hybrid));
        assert!(!f1.modules[1].applies_to(&by_value_hybrid));

        let err = |sources: &[Source]| plans_from_sources(sources, CATALOG).expect_err("an error").to_string();
        // A setting cannot also be an axis.
        let e = err(&[plan_file("f1", &FAPI1.replace("[variants]", "request_method = \"signed\"\n[variants]")), source("f1", "1.toml", "a")]);
        assert!(e.contains("request_method is both a plan setting and a [variants] axis"), "{e}");
        // A JARM-only mutation needs an [applies] without the hybrid variants.
        let e = err(&[plan_file("f1", FAPI1), with_par(source("f1", "1.toml", "a"), "request_object_no_aud")]);
        assert!(e.contains("step \"par\" expects a refusal, but plan \"f1\" sends requests by value"), "{e}");
        // A module that applies to none of the plan's variants.
        let mut dpop = source("f1", "1.toml", "dpop");
        dpop.text = dpop.text.replace("[[steps]]", "[applies]\nsender = [\"dpop\"]\n\n[[steps]]");
        let e = err(&[plan_file("f1", FAPI1), dpop]);
        assert!(e.contains("module \"dpop\" applies to no variant of plan \"f1\""), "{e}");
        let e = err(&[plan_file("f1", &FAPI1.replace("\"hybrid\", ", "\"fragment\", ")), source("f1", "1.toml", "a")]);
        assert!(e.contains("unknown response_mode value \"fragment\" in [variants]; expected one of: plain, jarm, hybrid"), "{e}");
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
