//! The sandbox inbox: where one-time codes "sent" by email or text message land, for tests
//! and demos to read through the admin API (`GET /admin/inbox`). The server sends no real
//! email or SMS; the newest [`CAPACITY`] messages are kept in memory.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

pub const CAPACITY: usize = 500;

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: String,
    /// `email` or `sms`.
    pub channel: &'static str,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub sent_at: i64,
}

#[derive(Default)]
pub struct Inbox {
    messages: Mutex<VecDeque<Message>>,
}

impl Inbox {
    pub fn deliver(&self, message: Message) {
        let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if messages.len() == CAPACITY {
            messages.pop_front();
        }
        messages.push_back(message);
    }

    /// Messages to `to` (case-insensitively), or all; newest first.
    pub fn list(&self, to: Option<&str>) -> Vec<Message> {
        let messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        messages.iter().rev().filter(|m| to.is_none_or(|t| m.to.eq_ignore_ascii_case(t))).cloned().collect()
    }

    pub fn clear(&self) {
        self.messages.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_filtered_and_bounded() {
        let inbox = Inbox::default();
        for i in 0..CAPACITY + 2 {
            inbox.deliver(Message { id: i.to_string(), channel: "email", to: if i % 2 == 0 { "a@x.example".into() } else { "b@x.example".into() }, subject: String::new(), body: String::new(), sent_at: i as i64 });
        }
        assert_eq!(inbox.list(None).len(), CAPACITY);
        assert_eq!(inbox.list(Some("A@X.example"))[0].id, CAPACITY.to_string());
        inbox.clear();
        assert!(inbox.list(None).is_empty());
    }
}
