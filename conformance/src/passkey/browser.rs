//! A browser for the passkey pages whose cookies the harness holds itself: a sign-in starts in
//! a browser with no cookies ("the passkey alone"), a replay is posted from a browser that holds
//! the interaction's cookies but not the session the first post opened, and after a refusal the
//! harness asks the account page whether this browser has a session. The module's
//! [`crate::http::Via::Browser`] keeps its cookies out of reach, so these requests go over
//! [`Via::Plain`] with the `Cookie` header this jar makes. A cookie goes back to the origin
//! that set it (its `Path` is not looked at: the pages of one authorization server share them).
//!
//! The page helpers read what the sign-in page's and the account page's scripts would: the
//! forms by `id` with their `data-options` URL, and the listed passkeys (`data-passkey-id`).

use crate::http::{Http, Request, Response, Via};
use crate::login::{Form, attr, origin, parse_forms, resolve, unescape};

const MAX_HOPS: usize = 8;

/// One cookie: the origin that set it, its name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    origin: String,
    name: String,
    value: String,
}

/// Cookies in the order they were set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookies(Vec<Cookie>);

impl Cookies {
    /// Applies the `Set-Cookie` headers of the response to a request to `url`; returns the
    /// names it set (not deleted). A cookie with an empty value, `Max-Age` zero or less, or
    /// (without `Max-Age`, which wins: RFC 6265 §5.3) an `Expires` date in the past is deleted.
    pub fn absorb(&mut self, url: &str, resp: &Response) -> Vec<String> {
        self.absorb_at(url, resp, fapilab_jose::now())
    }

    fn absorb_at(&mut self, url: &str, resp: &Response, now: i64) -> Vec<String> {
        let from = origin(url).unwrap_or_default();
        let mut set = Vec::new();
        for (_, value) in resp.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie")) {
            let mut parts = value.split(';');
            let Some((name, cookie_value)) = parts.next().and_then(|p| p.split_once('=')) else { continue };
            let (name, cookie_value) = (name.trim().to_owned(), cookie_value.trim().to_owned());
            let attributes: Vec<(String, &str)> = parts
                .map(|a| match a.split_once('=') {
                    Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
                    None => (a.trim().to_ascii_lowercase(), ""),
                })
                .collect();
            let attribute = |key: &str| attributes.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v);
            let expired = match attribute("max-age") {
                Some(seconds) => seconds.parse::<i64>().is_ok_and(|s| s <= 0),
                None => attribute("expires").and_then(cookie_date).is_some_and(|at| at <= now),
            };
            self.0.retain(|c| !(c.origin == from && c.name == name));
            if !(cookie_value.is_empty() || expired) {
                set.push(name.clone());
                self.0.push(Cookie { origin: from.clone(), name, value: cookie_value });
            }
        }
        set
    }

    /// The `Cookie` header for a request to `url`, when there is any cookie for its origin.
    pub fn header(&self, url: &str) -> Option<String> {
        let to = origin(url).unwrap_or_default();
        let pairs: Vec<String> = self.0.iter().filter(|c| c.origin == to).map(|c| format!("{}={}", c.name, c.value)).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|c| c.name.clone()).collect()
    }
}

/// Where a page load or a form post ended.
#[derive(Debug, Clone)]
pub struct Landing {
    /// The last response on the authorization server.
    pub response: Response,
    /// Its URL.
    pub url: String,
    /// A redirect that leaves the server's origin (the client's callback) and its status.
    pub left_to: Option<(String, u16)>,
    /// Every exchange on the way.
    pub evidence: Vec<usize>,
}

impl Landing {
    /// A 200 page (not a redirect out, not an error).
    pub fn is_page(&self) -> bool {
        self.left_to.is_none() && self.response.status == Some(200)
    }

    /// `HTTP 401 at https://…/login` for `observed` texts.
    pub fn describe(&self) -> String {
        match &self.left_to {
            Some((url, status)) => format!("HTTP {status} to {}", crate::http::redact_url(url)),
            None => format!("{} at {}", self.response.describe(), crate::http::redact_url(&self.url)),
        }
    }
}

/// A browser: its cookies; requests go through the module's recorded HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub cookies: Cookies,
}

impl Browser {
    /// A browser that holds `cookies`.
    pub fn with(cookies: Cookies) -> Browser {
        Browser { cookies }
    }

    /// Sends one request with this browser's cookies and keeps what it sets.
    pub async fn send(&mut self, http: &mut Http, req: Request) -> (Response, Vec<String>) {
        let url = req.url.clone();
        let req = match self.cookies.header(&url) {
            Some(c) => req.header("Cookie", c),
            None => req,
        };
        let resp = http.send(Via::Plain, req).await;
        let set = self.cookies.absorb(&url, &resp);
        (resp, set)
    }

    /// Sends `req`, then follows redirects on the same origin with GET until a page, an error
    /// or a redirect that leaves the origin.
    pub async fn submit(&mut self, http: &mut Http, req: Request) -> Landing {
        let home = origin(&req.url).unwrap_or_default();
        let mut url = req.url.clone();
        let mut evidence = Vec::new();
        let mut next = req;
        for _ in 0..MAX_HOPS {
            let (resp, _) = self.send(http, next).await;
            evidence.push(resp.index);
            let status = resp.status_or_zero();
            let location = resp.header("location").map(|l| resolve(&url, l));
            match location {
                Some(to) if (300..400).contains(&status) => {
                    if origin(&to).as_deref() != Some(home.as_str()) {
                        return Landing { response: resp, url, left_to: Some((to, status)), evidence };
                    }
                    url = to.clone();
                    next = Request::get(to);
                }
                _ => return Landing { response: resp, url, left_to: None, evidence },
            }
        }
        let (resp, _) = self.send(http, next).await;
        evidence.push(resp.index);
        Landing { response: resp, url, left_to: None, evidence }
    }

    /// Loads `url`, following redirects on its origin.
    pub async fn open(&mut self, http: &mut Http, url: &str) -> Landing {
        self.submit(http, Request::get(url)).await
    }
}

/// A cookie date (RFC 6265 §5.1.1, e.g. `Thu, 01 Jan 1970 00:00:00 GMT`) as Unix seconds.
fn cookie_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':')).filter(|t| !t.is_empty()) {
        let digits = |t: &str| t.len() <= 4 && t.chars().all(|c| c.is_ascii_digit());
        if time.is_none() && token.contains(':') {
            let hms: Option<Vec<i64>> = token.split(':').map(|p| p.parse().ok().filter(|_| (1..=2).contains(&p.len()))).collect();
            if let Some([h, m, s]) = hms.as_deref() {
                time = Some((*h, *m, *s));
            }
            continue;
        }
        if day.is_none() && token.len() <= 2 && digits(token) {
            day = token.parse::<i64>().ok();
        } else if month.is_none()
            && let Some(m) = MONTHS.iter().position(|m| token.to_ascii_lowercase().starts_with(m))
        {
            month = Some(m as i64 + 1);
        } else if year.is_none() && (2..=4).contains(&token.len()) && digits(token) {
            let y = token.parse::<i64>().ok()?;
            year = Some(match y {
                70..=99 => y + 1900,
                0..=69 => y + 2000,
                _ => y,
            });
        }
    }
    let ((h, m, s), day, month, year) = (time?, day?, month?, year?);
    if !(1..=31).contains(&day) || year < 1601 || h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// `fapilab_jose::civil_from_days`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A form the page's script drives: where it posts, where it gets its WebAuthn options
/// (`data-options`), and its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedForm {
    pub action: String,
    pub options_url: Option<String>,
    pub form: Form,
}

/// Where the `<form>` whose `id` is `id` starts, and where its opening tag ends.
fn form_at(html: &str, id: &str) -> Option<(usize, usize)> {
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<form").map(|i| i + pos) {
        let open_end = lower[start..].find('>').map_or(html.len(), |i| i + start);
        if attr(&html[start..open_end], "id").as_deref() == Some(id) {
            return Some((start, open_end));
        }
        pos = open_end.max(start + 5);
    }
    None
}

/// The `<form id="…">` of a page, with its URLs resolved against `page_url`.
pub fn form_by_id(html: &str, page_url: &str, id: &str) -> Option<ScriptedForm> {
    let (start, open_end) = form_at(html, id)?;
    let end = html.to_ascii_lowercase()[start..].find("</form").map_or(html.len(), |i| i + start);
    let form = parse_forms(&html[start..end]).into_iter().next()?;
    let action = resolve(page_url, form.action.as_deref().unwrap_or_default());
    let options_url = attr(&html[start..open_end], "data-options").map(|o| resolve(page_url, &o));
    Some(ScriptedForm { action, options_url, form })
}

/// A sign-in page: a form with the user's password field (`password_field`, the target's
/// login script), or the passkey sign-in form (`form#passkey-login`).
pub fn is_sign_in_page(html: &str, page_url: &str, password_field: &str) -> bool {
    parse_forms(html).iter().any(|f| f.fields.iter().any(|n| n == password_field)) || form_by_id(html, page_url, "passkey-login").is_some()
}

/// The value of the first input named `name` on the page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    parse_forms(html).into_iter().flat_map(|f| f.hidden).find(|(n, _)| n == name).map(|(_, v)| v)
}

/// The text of the page's first element with `role="alert"` (quoted either way; the error the
/// user sees), its markup dropped and its character references decoded, if it has any.
pub fn alert_text(html: &str) -> Option<String> {
    let mut pos = 0;
    let (name, start) = loop {
        let open = html[pos..].find('<')? + pos;
        let close = html[open..].find('>').map_or(html.len(), |e| e + open);
        let tag = &html[open..close];
        let name: String = tag[1..].chars().take_while(char::is_ascii_alphanumeric).collect();
        if !name.is_empty() && attr(tag, "role").is_some_and(|r| r.trim().eq_ignore_ascii_case("alert")) {
            break (name, (close + 1).min(html.len()));
        }
        pos = close.max(open + 1);
    };
    let end = html.to_ascii_lowercase()[start..].find(&format!("</{}", name.to_ascii_lowercase())).map_or(html.len(), |e| e + start);
    // The element's text, its inner markup dropped.
    let text: String = html[start..end].split(['<', '>']).step_by(2).collect::<Vec<_>>().join(" ");
    let text = unescape(&text).split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// One passkey the account page lists: its id and the page text of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPasskey {
    pub id: String,
    /// The markup from its `data-passkey-id` element up to the next entry (its name, its
    /// remove form).
    pub entry: String,
}

/// Every passkey the account page lists (`data-passkey-id`), in page order.
pub fn listed_passkeys(html: &str) -> Vec<ListedPasskey> {
    const MARK: &str = "data-passkey-id=";
    let starts: Vec<usize> = html.match_indices(MARK).map(|(i, _)| i).collect();
    let register = form_at(html, "passkey-register").map_or(html.len(), |(start, _)| start);
    starts
        .iter()
        .enumerate()
        .filter_map(|(n, &start)| {
            let tag_start = html[..start].rfind('<').unwrap_or(start);
            let tag_end = html[start..].find('>').map_or(html.len(), |e| e + start);
            let id = attr(&html[tag_start..tag_end], "data-passkey-id")?;
            let end = starts.get(n + 1).copied().unwrap_or(register.max(tag_end));
            Some(ListedPasskey { id, entry: html[start..end.max(start)].to_owned() })
        })
        .collect()
}

/// The remove form of the listed passkey `id`: the form whose `passkey_id` input is `id`.
pub fn remove_form(html: &str, page_url: &str, id: &str) -> Option<(String, Vec<(String, String)>)> {
    parse_forms(html).into_iter().find(|f| f.hidden.iter().any(|(n, v)| n == "passkey_id" && v == id)).map(|f| {
        let action = resolve(page_url, f.action.as_deref().unwrap_or_default());
        (action, f.hidden)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn response(headers: &[(&str, &str)]) -> Response {
        Response {
            index: 0,
            status: Some(200),
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            body: String::new(),
            error: None,
        }
    }

    #[test]
    fn cookies_are_set_replaced_and_deleted() {
        const AS: &str = "https://as.example/default/fapi2/authorize";
        let mut jar = Cookies::default();
        let set = jar.absorb(AS, &response(&[
            ("Set-Cookie", "fapilab_ix_1=abc; Path=/default/fapi2/; Secure; HttpOnly; SameSite=Lax"),
            ("content-type", "text/html"),
        ]));
        assert_eq!(set, vec!["fapilab_ix_1"]);
        let set = jar.absorb(AS, &response(&[("set-cookie", "fapilab_session=s1; Path=/default/fapi2/"), ("set-cookie", "fapilab_ix_1=def")]));
        assert_eq!(set, vec!["fapilab_session", "fapilab_ix_1"]);
        assert_eq!(jar.header("https://as.example/default/fapi2/account").unwrap(), "fapilab_session=s1; fapilab_ix_1=def");
        // Only to the origin that set them.
        assert_eq!(jar.header("https://other.example/"), None);
        assert_eq!(jar.header("https://as.example:8443/"), None);
        let set = jar.absorb(AS, &response(&[("set-cookie", "fapilab_session=; Max-Age=0; Path=/default/fapi2/")]));
        assert!(set.is_empty());
        assert_eq!(jar.names(), vec!["fapilab_ix_1"]);
    }

    #[test]
    fn an_expires_date_in_the_past_deletes_unless_max_age_says_otherwise() {
        const AS: &str = "https://as.example/t/w/login";
        let now = 1_795_986_300; // 2026-11-29 21:05:00 UTC
        let mut jar = Cookies::default();
        jar.absorb_at(AS, &response(&[("set-cookie", "a=1"), ("set-cookie", "b=2"), ("set-cookie", "c=3"), ("set-cookie", "d=4")]), now);
        let set = jar.absorb_at(
            AS,
            &response(&[
                ("set-cookie", "a=gone; Path=/t/w/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure"),
                ("set-cookie", "b=gone; expires=Sun, 29-Nov-2026 21:04:59 GMT"),
                ("set-cookie", "c=kept; Expires=Sun, 29 Nov 2026 21:05:01 GMT"),
                // Max-Age wins over Expires (RFC 6265 §5.3).
                ("set-cookie", "d=kept; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60"),
                ("set-cookie", "e=gone; Max-Age=60; max-age=-1"),
                ("set-cookie", "f=kept; Expires=not a date"),
            ]),
            now,
        );
        assert_eq!(set, vec!["c", "d", "f"]);
        assert_eq!(jar.header(AS).unwrap(), "c=kept; d=kept; f=kept");
        assert_eq!(cookie_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(cookie_date("Sunday, 29-Nov-26 21:05:00 GMT"), Some(now));
        assert_eq!(cookie_date("Tue, 29 Feb 2000 12:00:01 GMT"), Some(951_825_601));
        assert_eq!(cookie_date("29 Nov 2026"), None, "no time");
        assert_eq!(cookie_date("Sun, 32 Nov 2026 00:00:00 GMT"), None);
    }

    #[test]
    fn reads_alerts_and_sign_in_pages() {
        let page = "https://as.example/t/w/account";
        assert_eq!(
            alert_text("<p class='error' role='alert'>The passkey was not added: &#x2f;&#47; &amp; more</p>").as_deref(),
            Some("The passkey was not added: // & more")
        );
        assert_eq!(alert_text("<P ROLE=ALERT>Bare</P>").as_deref(), Some("Bare"));
        assert_eq!(alert_text("<p role=\"status\">Working</p><p role=\"alert\"> </p>"), None);
        assert_eq!(alert_text("<!-- role=\"alert\" --><p>x</p>"), None);
        let login = r#"<form method="post" action="&#x2f;t&#x2f;w&#x2f;login"><input type="hidden" name="csrf_token" value="c"><input name="username"><input name="password" type="password"></form>"#;
        assert!(is_sign_in_page(login, page, "password"));
        assert!(!is_sign_in_page(login, page, "passcode"));
        let passkey_only = r#"<form id='passkey-login' method="post" action="/t/w/passkey/login" data-options="&#47;t&#47;w&#47;passkey&#47;options"><input type="hidden" name="interaction_id" value="i"></form>"#;
        assert!(is_sign_in_page(passkey_only, page, "password"));
        let f = form_by_id(passkey_only, page, "passkey-login").unwrap();
        assert_eq!(f.options_url.as_deref(), Some("https://as.example/t/w/passkey/options"));
        // The account page of a session older than the enrolment window: signed in, no form.
        let again = r#"<p>Signed in as <strong>alice</strong>.</p><p>To add a passkey, <a href="/t/w/account?sign_in=again">sign in again</a> first.</p>"#;
        assert!(!is_sign_in_page(again, page, "password"));
        assert!(!is_sign_in_page(ACCOUNT, page, "password"));
    }

    const ACCOUNT: &str = r#"<main><input type="hidden" name="csrf_token" value="tok">
    <ul><li data-passkey-id="pk-1"><span>Laptop</span><form method="post" action="/default/fapi2/account/passkeys/remove">
    <input type="hidden" name="csrf_token" value="tok"><input type="hidden" name="passkey_id" value="pk-1"><button>Remove</button></form></li>
    <li data-passkey-id='pk-2'><span>fapilab harness x1</span><form method="post" action="/default/fapi2/account/passkeys/remove">
    <input type="hidden" name="csrf_token" value="tok"><input type="hidden" name="passkey_id" value="pk-2"><button>Remove</button></form></li></ul>
    <form id="passkey-register" method="post" action="https://as.example/default/fapi2/account/passkeys" data-options="/default/fapi2/account/passkeys/options">
    <input type="hidden" name="csrf_token" value="tok"><label>Passkey name <input name="name"></label><input type="hidden" name="credential"></form></main>"#;

    #[test]
    fn reads_the_account_page() {
        let page = "https://as.example/default/fapi2/account";
        let f = form_by_id(ACCOUNT, page, "passkey-register").unwrap();
        assert_eq!(f.action, "https://as.example/default/fapi2/account/passkeys");
        assert_eq!(f.options_url.as_deref(), Some("https://as.example/default/fapi2/account/passkeys/options"));
        assert!(f.form.fields.contains(&"name".to_owned()) && f.form.hidden.iter().any(|(n, v)| n == "csrf_token" && v == "tok"));
        assert!(form_by_id(ACCOUNT, page, "passkey-login").is_none());
        let listed = listed_passkeys(ACCOUNT);
        assert_eq!(listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec!["pk-1", "pk-2"]);
        assert!(listed[1].entry.contains("fapilab harness x1") && !listed[0].entry.contains("fapilab harness x1"));
        let (action, hidden) = remove_form(ACCOUNT, page, "pk-2").unwrap();
        assert_eq!(action, "https://as.example/default/fapi2/account/passkeys/remove");
        assert!(hidden.contains(&("passkey_id".into(), "pk-2".into())));
        assert_eq!(input_value(ACCOUNT, "csrf_token").as_deref(), Some("tok"));
        assert_eq!(alert_text("<p class=\"e\" role=\"alert\">That passkey\n is unknown.</p>").as_deref(), Some("That passkey is unknown."));
        assert_eq!(alert_text("<div role=\"alert\"><strong>No:</strong> try again</div><p>x</p>").as_deref(), Some("No: try again"));
        assert_eq!(alert_text(ACCOUNT), None);
        // The registration form found however its id is quoted: the entries end before it.
        let single = ACCOUNT.replace(r#"id="passkey-register""#, "id='passkey-register'");
        assert!(!listed_passkeys(&single)[1].entry.contains("Passkey name"));
        assert!(form_by_id(&single, page, "passkey-register").is_some());
    }
}
