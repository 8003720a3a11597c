//! API tokens for scripts: named, per user, with a role no higher than the user's, stored only as
//! a hash, shown once. What a token is worth at each use is decided here (pure, unit-tested);
//! `db::tokens` stores them and the web edge's log-in middleware asks this module.

use super::accounts::Role;
use super::clock;
use serde::{Deserialize, Serialize};

/// Every API token starts with this, so a token is told from a session token at a glance (and
/// by secret scanners).
pub const PREFIX: &str = "bk_";

/// Characters of a token kept in clear to tell tokens apart in lists (`bk_` and 4 hex digits:
/// 16 of its 256 bits).
pub const HINT_LEN: usize = 7;

/// The longest expiry a token may be given, in days (ten years).
pub const MAX_DAYS: u32 = 3650;

/// Whether a bearer token is an API token (else it is a log-in session's).
pub fn is_api_token(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// The part of a token shown in lists.
pub fn hint(token: &str) -> String {
    token.chars().take(HINT_LEN).collect()
}

/// A token as listed: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub user_id: i64,
    /// The owner's name.
    pub owner: String,
    /// `bk_` and the first hex digits.
    pub hint: String,
    /// Unix seconds.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenView {
    /// "active", "revoked" or "expired" at `now`.
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    }

    /// The JSON scripts get from `GET /api/tokens` (times in RFC 3339, UTC).
    pub fn to_json(&self, now: i64) -> serde_json::Value {
        let t = |x: Option<i64>| x.map(clock::rfc3339);
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "owner": self.owner,
            "hint": self.hint,
            "state": self.state(now),
            "created_at": clock::rfc3339(self.created_at),
            "last_used_at": t(self.last_used_at),
            "expires_at": t(self.expires_at),
            "revoked_at": t(self.revoked_at),
        })
    }
}

/// The tokens a page lists, with the server's clock (to tell expired ones).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    /// Unix seconds, on the server.
    pub now: i64,
    pub tokens: Vec<TokenView>,
}

/// A token just made: the only time the token itself is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub id: i64,
    pub token: String,
    pub name: String,
    pub role: Role,
    pub expires_at: Option<i64>,
    /// "It expires 2026-12-30 10:00 UTC." or "It does not expire." (the page says so).
    #[serde(default)]
    pub expiry: String,
}

impl NewToken {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "token": self.token,
            "name": self.name,
            "role": self.role,
            "expires_at": self.expires_at.map(clock::rfc3339),
        })
    }
}

/// What the log-in middleware finds for a bearer token: the token's row and its owner now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TokenUse {
    pub id: i64,
    pub role: Role,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub user_id: i64,
    pub user_name: String,
    pub user_role: Role,
}

/// Why a token is refused (401, with this message: a script's author must know what to fix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Revoked {
        at: i64,
    },
    Expired {
        at: i64,
    },
    /// The owner's role changed so that no role is within both (see [`Role::capped`]).
    RoleAboveOwner {
        token: Role,
        user: Role,
    },
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Revoked { at } => format!(
                "this API token was revoked (on {}): create a new one on the API tokens page or with `bakeoff token create`",
                clock::readable(*at)
            ),
            Refusal::Expired { at } => format!(
                "this API token expired on {}: create a new one on the API tokens page or with `bakeoff token create`",
                clock::readable(*at)
            ),
            Refusal::RoleAboveOwner { token, user } => format!(
                "this API token's role ({}) is beyond what its owner, now {}, may do: create a new token",
                token.label(),
                user.label()
            ),
        }
    }
}

impl TokenUse {
    /// The role this use acts with, or why the token is refused.
    pub fn check(&self, now: i64) -> Result<Role, Refusal> {
        if let Some(at) = self.revoked_at {
            return Err(Refusal::Revoked { at });
        }
        if let Some(at) = self.expires_at.filter(|e| *e <= now) {
            return Err(Refusal::Expired { at });
        }
        Role::capped(self.role, self.user_role).ok_or(Refusal::RoleAboveOwner {
            token: self.role,
            user: self.user_role,
        })
    }
}

/// The fields of a new token, checked against who asks: a name (1-64 characters, one line), a
/// role within the asker's own (default: the asker's), an expiry of 1 to [`MAX_DAYS`] days or
/// none.
pub fn check_new(
    name: &str,
    role: Option<&str>,
    expires_days: Option<&str>,
    asker: Role,
) -> Result<(String, Role, Option<u32>), super::errors::FieldErrors> {
    let mut errs = super::errors::FieldErrors::default();
    let name = name.trim();
    if name.is_empty() {
        errs.push("name", "name the token after what uses it (e.g. 'nightly benchmark')");
    } else if name.chars().count() > 64 || name.chars().any(char::is_control) {
        errs.push("name", "a token's name is one line of at most 64 characters");
    }
    let role = match role.map(str::trim).filter(|r| !r.is_empty()) {
        None => asker,
        Some(r) => match Role::parse(r) {
            None => {
                errs.push("role", format!("unknown role '{r}': choose admin, runner, reviewer or viewer"));
                asker
            }
            Some(r) if !r.within(asker) => {
                errs.push(
                    "role",
                    format!("a token may not do more than you: you are {}, so not {}", asker.label(), r.label()),
                );
                asker
            }
            Some(r) => r,
        },
    };
    let days = match expires_days.map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => match d.parse::<u32>() {
            Ok(n) if (1..=MAX_DAYS).contains(&n) => Some(n),
            _ => {
                errs.push(
                    "expires_days",
                    format!("expiry is a whole number of days from 1 to {MAX_DAYS}, or empty for none; got '{d}'"),
                );
                None
            }
        },
    };
    errs.into_result((name.to_string(), role, days))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(role: Role, user_role: Role) -> TokenUse {
        TokenUse {
            id: 1,
            role,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            user_id: 1,
            user_name: "ana".into(),
            user_role,
        }
    }

    #[test]
    fn a_token_acts_with_the_lower_role_and_is_refused_once_revoked_or_expired() {
        assert_eq!(used(Role::Admin, Role::Runner).check(100), Ok(Role::Runner));
        assert_eq!(used(Role::Viewer, Role::Admin).check(100), Ok(Role::Viewer));
        let revoked = TokenUse {
            revoked_at: Some(50),
            ..used(Role::Viewer, Role::Admin)
        };
        assert_eq!(revoked.check(100), Err(Refusal::Revoked { at: 50 }));
        assert!(Refusal::Revoked { at: 50 }.message().starts_with("this API token was revoked"));
        let expiring = TokenUse {
            expires_at: Some(100),
            ..used(Role::Viewer, Role::Admin)
        };
        assert_eq!(expiring.check(99), Ok(Role::Viewer));
        assert_eq!(expiring.check(100), Err(Refusal::Expired { at: 100 }));
        assert!(Refusal::Expired { at: 0 }.message().contains("expired on 1970-01-01 00:00 UTC"));
        assert!(matches!(
            used(Role::Runner, Role::Reviewer).check(0),
            Err(Refusal::RoleAboveOwner { .. })
        ));
    }

    #[test]
    fn a_new_token_may_not_do_more_than_its_maker() {
        assert_eq!(check_new(" ci ", None, None, Role::Runner), Ok(("ci".into(), Role::Runner, None)));
        assert_eq!(
            check_new("ci", Some("viewer"), Some("30"), Role::Runner),
            Ok(("ci".into(), Role::Viewer, Some(30)))
        );
        let e = check_new("ci", Some("admin"), None, Role::Runner).expect_err("above");
        assert!(e.for_field("role").is_some_and(|m| m.contains("you are runner")), "{e}");
        // A reviewer's token may not read answers beside their models, as a viewer's could.
        assert!(check_new("ci", Some("viewer"), None, Role::Reviewer).is_err());
        let e = check_new("", Some("boss"), Some("0"), Role::Admin).expect_err("three problems");
        assert_eq!(e.0.len(), 3, "{e}");
        assert!(check_new("ci", None, Some("3651"), Role::Admin).is_err());
    }

    #[test]
    fn api_tokens_are_told_from_session_tokens_by_their_prefix() {
        assert!(is_api_token("bk_0123abcd"));
        assert!(!is_api_token("0123abcd"));
        assert_eq!(hint("bk_0123abcdef"), "bk_0123");
    }
}
