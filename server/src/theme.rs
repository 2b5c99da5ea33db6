//! Themes: the templates (minijinja) and stylesheet of the sign-in pages — login, one-time
//! code, change password, consent, the account page with its passkeys — and of error pages.
//!
//! The built-in theme lives in `server/templates/`. A workspace may have its own, uploaded
//! through the admin API (`endpoints/admin_themes.rs`): it is validated before it is kept
//! (every template compiles, extends the layout and renders the sample pages with every form
//! field the server reads back), can be previewed, and only then activated. Error pages always
//! use the built-in theme: they are what a browser sees when something is wrong, possibly with
//! the theme itself.
//!
//! Uploaded templates are data from an operator, not code: autoescaping is on for every
//! template and cannot be turned off (no `safe`, no `autoescape` — registered clients choose
//! the names these pages show), the stylesheet may not close its `<style>` element, and
//! rendering runs on a fuel budget so a template cannot loop for long.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use minijinja::{Environment, Value, context};
use serde::{Deserialize, Serialize};

/// The templates a theme consists of; every one is required.
pub const TEMPLATES: [&str; 7] = ["layout.html", "login.html", "enter_code.html", "change_password.html", "consent.html", "account.html", "error.html"];

/// Bounds what an uploaded theme may cost to store and render.
const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
const MAX_CSS_BYTES: usize = 64 * 1024;
const FUEL: u64 = 50_000;

/// A theme as uploaded and stored: template sources by name, and the stylesheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeSource {
    pub templates: BTreeMap<String, String>,
    pub css: String,
}

/// A validated, compiled theme.
pub struct Theme {
    env: Environment<'static>,
    css: String,
}

impl std::fmt::Debug for Theme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Theme").finish_non_exhaustive()
    }
}

/// The form fields the server reads from each page's forms: a theme that drops one would
/// break sign-in, so it is refused.
const REQUIRED_FIELDS: [(&str, &[&str]); 5] = [
    (
        "login.html",
        &["name=\"interaction_id\"", "name=\"csrf_token\"", "name=\"username\"", "name=\"password\"", "id=\"passkey-login\"", "name=\"credential\"", "/passkey.js\""],
    ),
    ("account.html", &["name=\"csrf_token\"", "name=\"passkey_id\"", "id=\"passkey-register\"", "name=\"name\"", "name=\"credential\"", "/passkey.js\""]),
    ("enter_code.html", &["name=\"interaction_id\"", "name=\"csrf_token\"", "name=\"code\""]),
    ("change_password.html", &["name=\"interaction_id\"", "name=\"csrf_token\"", "name=\"new_password\"", "name=\"confirm_password\""]),
    ("consent.html", &["name=\"interaction_id\"", "name=\"csrf_token\"", "name=\"decision\"", "value=\"approve\"", "value=\"deny\""]),
];

pub fn builtin_source() -> ThemeSource {
    let templates = [
        ("layout.html", include_str!("../templates/layout.html")),
        ("login.html", include_str!("../templates/login.html")),
        ("enter_code.html", include_str!("../templates/enter_code.html")),
        ("change_password.html", include_str!("../templates/change_password.html")),
        ("consent.html", include_str!("../templates/consent.html")),
        ("account.html", include_str!("../templates/account.html")),
        ("error.html", include_str!("../templates/error.html")),
    ];
    ThemeSource {
        templates: templates.into_iter().map(|(n, s)| (n.to_owned(), s.to_owned())).collect(),
        css: include_str!("../templates/theme.css").to_owned(),
    }
}

/// The built-in theme, compiled once. A test proves it validates, so this cannot fail.
pub fn builtin() -> Arc<Theme> {
    static BUILTIN: OnceLock<Arc<Theme>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| match Theme::compile(&builtin_source()) {
            Ok(theme) => Arc::new(theme),
            // Unreachable while `the_builtin_theme_is_valid` passes; rather a plain theme
            // than a panic on the sign-in path.
            Err(problems) => {
                tracing::error!(?problems, "the built-in theme does not validate");
                Arc::new(Theme { env: Environment::new(), css: String::new() })
            }
        })
        .clone()
}

/// Sample data each page is rendered with during validation and previews.
pub fn sample(page: &str) -> Value {
    let common = context! {
        action => "https://as.example/t/w/login", interaction_id => "sample-interaction", csrf_token => "sample-csrf",
        client_name => "Sample Fintech",
    };
    let extra = match page {
        "login.html" => context! {
            error => "The username or password is not right.",
            code_offer => context! { action => "https://as.example/t/w/otp", channel => "email" },
            passkey => context! { action => "https://as.example/t/w/passkey/login", options => "https://as.example/t/w/passkey/options", script => "https://as.example/t/w/passkey.js", first => true },
        },
        "account.html" => context! {
            username => "alice@bank.example",
            error => "The new passkey did not verify.",
            remove_action => "https://as.example/t/w/account/passkeys/remove",
            passkeys => vec![context! { id => "c2FtcGxl", name => "Laptop", created => "2026-11-29 10:00 UTC", last_used => "2026-11-29 11:00 UTC", synced => true }],
            register => context! { action => "https://as.example/t/w/account/passkeys", options => "https://as.example/t/w/account/passkeys/options", script => "https://as.example/t/w/passkey.js", sign_in_again => () },
        },
        "enter_code.html" => context! { error => "The code is not right. 4 attempt(s) left." },
        "change_password.html" => context! { problems => vec!["at least 12 characters", "at least 1 digit(s)"] },
        "consent.html" => context! { username => "alice@bank.example", scopes => vec!["Confirm who you are", "See your accounts, balances and transactions"] },
        _ => context! { error => "invalid_request", error_description => "sample error description" },
    };
    context! { ..common, ..extra }
}

/// Whether a template's tags use `safe` or `autoescape` anywhere but the layout's stylesheet
/// (`{{ css|safe }}`): a theme that printed a client's registered name unescaped would let any
/// registered client script the sign-in page.
fn turns_escaping_off(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start..];
        let close = match after.get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            _ => {
                rest = &after[1..];
                continue;
            }
        };
        let end = after.find(close).map_or(after.len(), |e| e + 2);
        let tag: String = after[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if tag != "{{css|safe}}" && (tag.contains("safe") || tag.contains("autoescape")) {
            return true;
        }
        rest = &after[end..];
    }
    false
}

impl Theme {
    /// Compiles and validates `source`; every problem found, at once.
    pub fn compile(source: &ThemeSource) -> Result<Theme, Vec<String>> {
        let mut problems = Vec::new();
        for name in source.templates.keys() {
            if !TEMPLATES.contains(&name.as_str()) {
                problems.push(format!("{name}: not a template of a theme (they are {})", TEMPLATES.join(", ")));
            }
        }
        for name in TEMPLATES {
            match source.templates.get(name) {
                None => problems.push(format!("{name}: missing")),
                Some(text) if text.len() > MAX_TEMPLATE_BYTES => problems.push(format!("{name}: larger than {MAX_TEMPLATE_BYTES} bytes")),
                Some(text) if name != "layout.html" && !text.contains("{% extends \"layout.html\" %}") => {
                    problems.push(format!("{name}: must start from the layout ({{% extends \"layout.html\" %}})"));
                }
                Some(text) if !text.contains("{% block content %}") => problems.push(format!("{name}: needs a content block")),
                Some(_) => {}
            }
        }
        if source.css.len() > MAX_CSS_BYTES {
            problems.push(format!("css: larger than {MAX_CSS_BYTES} bytes"));
        }
        for (name, text) in &source.templates {
            if turns_escaping_off(text) {
                problems.push(format!(
                    "{name}: may not turn escaping off (safe, autoescape): client names and messages are shown here; only {{{{ css|safe }}}} is allowed"
                ));
            }
        }
        if source.css.contains('<') {
            problems.push("css: may not contain \"<\" (it is inlined in a <style> element)".to_owned());
        }
        // Oversized input is not compiled at all; everything else is, so one answer lists the
        // problems of every template.
        if source.templates.values().any(|t| t.len() > MAX_TEMPLATE_BYTES) || source.css.len() > MAX_CSS_BYTES {
            return Err(problems);
        }
        let mut env = Environment::new();
        // Autoescape every template, whatever its name (a theme cannot turn it off by name).
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        // The server's own escaping (`& < > " '`), so themed pages spell URLs the way every
        // form reader expects (minijinja's would also turn `/` into `&#x2f;`).
        env.set_formatter(|out, state, value| {
            if state.auto_escape() == minijinja::AutoEscape::None || value.is_safe() {
                write!(out, "{value}").map_err(minijinja::Error::from)
            } else {
                out.write_str(&crate::pages::escape(&value.to_string())).map_err(minijinja::Error::from)
            }
        });
        env.set_fuel(Some(FUEL));
        for (name, text) in source.templates.iter().filter(|(n, _)| TEMPLATES.contains(&n.as_str())) {
            if let Err(e) = env.add_template_owned(name.clone(), text.clone()) {
                problems.push(format!("{name}: {e}"));
            }
        }
        let theme = Theme { env, css: source.css.clone() };
        let renderable = source.templates.contains_key("layout.html");
        for page in TEMPLATES.iter().filter(|p| renderable && **p != "layout.html" && source.templates.contains_key(**p)) {
            match theme.render_raw(page, sample(page)) {
                Err(e) => problems.push(format!("{page}: does not render: {e}")),
                Ok(html) => {
                    let required = REQUIRED_FIELDS.iter().find(|(p, _)| p == page).map_or(&[][..], |(_, f)| *f);
                    for field in required {
                        if !html.contains(field) {
                            problems.push(format!("{page}: the rendered page lacks the form field {field} that the server reads"));
                        }
                    }
                    if *page == "error.html" && !(html.contains("sample error description") && html.contains("invalid_request")) {
                        problems.push("error.html: must show error and error_description".to_owned());
                    }
                }
            }
        }
        if problems.is_empty() { Ok(theme) } else { Err(problems) }
    }

    fn render_raw(&self, page: &str, ctx: Value) -> Result<String, minijinja::Error> {
        let template = self.env.get_template(page)?;
        template.render(context! { css => self.css.as_str(), ..ctx })
    }

    /// Renders `page`; a template that fails at runtime (out of fuel, say) falls back to the
    /// built-in theme's page.
    pub fn render(&self, page: &str, ctx: Value) -> String {
        match self.render_raw(page, ctx.clone()) {
            Ok(html) => html,
            Err(e) => {
                tracing::warn!(page, error = %e, "a themed page failed to render; using the built-in one");
                builtin().render_raw(page, ctx).unwrap_or_else(|_| "<!doctype html><title>Error</title><p>This page cannot be shown.</p>".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_theme_is_valid_and_escapes() {
        let theme = Theme::compile(&builtin_source()).expect("built-in theme");
        let html = theme.render("login.html", context! { action => "/l", interaction_id => "i", csrf_token => "c", client_name => "<script>x</script>" });
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>x"), "{html}");
    }

    #[test]
    fn broken_themes_list_every_problem() {
        let mut source = builtin_source();
        source.templates.remove("consent.html");
        source.templates.insert("login.html".into(), "{% extends \"layout.html\" %}{% block content %}<form>{{ oops</form>{% endblock %}".into());
        source.templates.insert("evil.html".into(), String::new());
        source.css = "body{}</style><script>alert(1)</script>".into();
        let problems = Theme::compile(&source).expect_err("broken");
        for expected in ["consent.html: missing", "evil.html", "css"] {
            assert!(problems.iter().any(|p| p.contains(expected)), "{expected}: {problems:?}");
        }
        let mut source = builtin_source();
        source.templates.insert("login.html".into(), "{% extends \"layout.html\" %}{% block content %}<form>{{ oops</form>{% endblock %}".into());
        assert!(Theme::compile(&source).expect_err("syntax").iter().any(|p| p.starts_with("login.html")));
        let mut source = builtin_source();
        source.templates.insert("login.html".into(), "{% extends \"layout.html\" %}{% block content %}<p>No form at all</p>{% endblock %}".into());
        let problems = Theme::compile(&source).expect_err("fields");
        assert!(problems.iter().any(|p| p.contains("name=\"password\"")), "{problems:?}");
    }

    #[test]
    fn escaping_cannot_be_turned_off_except_for_the_stylesheet() {
        for tag in ["{{ client_name|safe }}", "{{ client_name | safe }}", "{% autoescape false %}x{% endautoescape %}", "{% filter safe %}{{ error }}{% endfilter %}"] {
            assert!(turns_escaping_off(&format!("<p>{tag}</p>")), "{tag}");
        }
        assert!(!turns_escaping_off("<style>{{ css|safe }}</style><p>{{ client_name }}</p>{% if error %}{% endif %}"));
        assert!(!turns_escaping_off("plain { braces } and a lone {"));
        let mut source = builtin_source();
        let login = source.templates["login.html"].replace("{{ client_name }}", "{{ client_name|safe }}");
        source.templates.insert("login.html".into(), login);
        assert!(Theme::compile(&source).expect_err("unsafe").iter().any(|p| p.starts_with("login.html: may not turn escaping off")));
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel_and_falls_back() {
        let mut source = builtin_source();
        let heavy = "{% extends \"layout.html\" %}{% block content %}{% for a in range(1000) %}{% for b in range(1000) %}.{% endfor %}{% endfor %}{% endblock %}";
        source.templates.insert("error.html".into(), heavy.into());
        assert!(Theme::compile(&source).expect_err("out of fuel").iter().any(|p| p.starts_with("error.html")));
    }
}
