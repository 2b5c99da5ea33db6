//! The bank's seeded data: three accounts with balances and transactions.
//!
//! Every subject sees the same accounts, so a test can hard-code what it expects; the data
//! is fixed in the binary, which keeps answers byte-for-byte deterministic across runs.
//! Amounts are decimal strings, never floats, as money is in open-finance APIs. IBANs use
//! the fictional bank code `FAPI` and are not real accounts.

use serde::Serialize;

/// An account the user holds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Account {
    pub account_id: &'static str,
    pub account_type: &'static str,
    pub nickname: &'static str,
    pub currency: &'static str,
    pub iban: &'static str,
    pub opened: &'static str,
}

/// One balance of an account.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Balance {
    /// `booked` (settled) or `available` (booked, minus holds, plus any overdraft).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub amount: &'static str,
    pub currency: &'static str,
    pub as_of: &'static str,
}

/// One booked transaction.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Transaction {
    pub transaction_id: &'static str,
    pub booking_date: &'static str,
    /// `credit` or `debit`.
    pub credit_debit: &'static str,
    pub amount: &'static str,
    pub currency: &'static str,
    pub description: &'static str,
}

struct Seeded {
    account: Account,
    balances: &'static [Balance],
    transactions: &'static [Transaction],
}

const AS_OF: &str = "2026-01-31T23:59:59Z";

static SEEDED: [Seeded; 3] = [
    Seeded {
        account: Account {
            account_id: "acc-001",
            account_type: "current",
            nickname: "Everyday account",
            currency: "EUR",
            iban: "DE00FAPI00000000000001",
            opened: "2019-04-01",
        },
        balances: &[
            Balance {
                kind: "booked",
                amount: "2417.35",
                currency: "EUR",
                as_of: AS_OF,
            },
            Balance {
                kind: "available",
                amount: "2367.35",
                currency: "EUR",
                as_of: AS_OF,
            },
        ],
        transactions: &[
            Transaction {
                transaction_id: "tx-001-0001",
                booking_date: "2026-01-02",
                credit_debit: "debit",
                amount: "950.00",
                currency: "EUR",
                description: "Rent January",
            },
            Transaction {
                transaction_id: "tx-001-0002",
                booking_date: "2026-01-05",
                credit_debit: "debit",
                amount: "64.18",
                currency: "EUR",
                description: "Grocery store",
            },
            Transaction {
                transaction_id: "tx-001-0003",
                booking_date: "2026-01-12",
                credit_debit: "debit",
                amount: "39.99",
                currency: "EUR",
                description: "Mobile phone plan",
            },
            Transaction {
                transaction_id: "tx-001-0004",
                booking_date: "2026-01-28",
                credit_debit: "credit",
                amount: "3120.00",
                currency: "EUR",
                description: "Salary Example GmbH",
            },
            Transaction {
                transaction_id: "tx-001-0005",
                booking_date: "2026-01-30",
                credit_debit: "debit",
                amount: "200.00",
                currency: "EUR",
                description: "Transfer to savings",
            },
        ],
    },
    Seeded {
        account: Account {
            account_id: "acc-002",
            account_type: "savings",
            nickname: "Rainy day fund",
            currency: "EUR",
            iban: "DE00FAPI00000000000002",
            opened: "2020-09-15",
        },
        balances: &[
            Balance {
                kind: "booked",
                amount: "10250.00",
                currency: "EUR",
                as_of: AS_OF,
            },
            Balance {
                kind: "available",
                amount: "10250.00",
                currency: "EUR",
                as_of: AS_OF,
            },
        ],
        transactions: &[
            Transaction {
                transaction_id: "tx-002-0001",
                booking_date: "2026-01-30",
                credit_debit: "credit",
                amount: "200.00",
                currency: "EUR",
                description: "Transfer from everyday account",
            },
            Transaction {
                transaction_id: "tx-002-0002",
                booking_date: "2026-01-31",
                credit_debit: "credit",
                amount: "12.81",
                currency: "EUR",
                description: "Interest January",
            },
        ],
    },
    Seeded {
        account: Account {
            account_id: "acc-003",
            account_type: "credit_card",
            nickname: "Travel card",
            currency: "GBP",
            iban: "GB00FAPI00000000000003",
            opened: "2022-06-30",
        },
        balances: &[
            Balance {
                kind: "booked",
                amount: "-412.70",
                currency: "GBP",
                as_of: AS_OF,
            },
            Balance {
                kind: "available",
                amount: "2587.30",
                currency: "GBP",
                as_of: AS_OF,
            },
        ],
        transactions: &[
            Transaction {
                transaction_id: "tx-003-0001",
                booking_date: "2026-01-08",
                credit_debit: "debit",
                amount: "187.40",
                currency: "GBP",
                description: "Rail tickets",
            },
            Transaction {
                transaction_id: "tx-003-0002",
                booking_date: "2026-01-09",
                credit_debit: "debit",
                amount: "225.30",
                currency: "GBP",
                description: "Hotel, two nights",
            },
        ],
    },
];

/// The accounts `subject` holds, in a fixed order.
pub fn accounts(_subject: &str) -> Vec<Account> {
    SEEDED.iter().map(|s| s.account).collect()
}

fn find(_subject: &str, account_id: &str) -> Option<&'static Seeded> {
    SEEDED.iter().find(|s| s.account.account_id == account_id)
}

/// One account of `subject`, if it holds one with that id.
pub fn account(subject: &str, account_id: &str) -> Option<Account> {
    find(subject, account_id).map(|s| s.account)
}

/// The balances of one of `subject`'s accounts.
pub fn balances(subject: &str, account_id: &str) -> Option<&'static [Balance]> {
    find(subject, account_id).map(|s| s.balances)
}

/// The transactions of one of `subject`'s accounts, oldest first.
pub fn transactions(subject: &str, account_id: &str) -> Option<&'static [Transaction]> {
    find(subject, account_id).map(|s| s.transactions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_account_has_balances_and_transactions_in_its_currency() {
        for account in accounts("anyone") {
            let id = account.account_id;
            let balances = balances("anyone", id).unwrap_or_default();
            let transactions = transactions("anyone", id).unwrap_or_default();
            assert!(!balances.is_empty() && !transactions.is_empty(), "{id}");
            assert!(
                balances.iter().all(|b| b.currency == account.currency),
                "{id}"
            );
            assert!(
                transactions.iter().all(|t| t.currency == account.currency),
                "{id}"
            );
            assert!(
                transactions
                    .windows(2)
                    .all(|w| w[0].booking_date <= w[1].booking_date),
                "{id}"
            );
        }
        assert!(account("anyone", "acc-999").is_none());
    }
}
