//! Who may do what.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Runner,
    Reviewer,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Runner, Role::Reviewer, Role::Viewer];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.label() == s.trim().to_lowercase())
    }
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Runner => "runner",
            Role::Reviewer => "reviewer",
            Role::Viewer => "viewer",
        }
    }
    /// What the role may do. Everyone logged in may view; runners run, reviewers grade, admins
    /// do everything and manage users.
    pub fn allows(self, p: Permission) -> bool {
        match p {
            Permission::View => true,
            // Reviewers grade blind: they never see an answer beside the model that wrote it.
            Permission::ReadAnswers => self != Role::Reviewer,
            Permission::Run => matches!(self, Role::Admin | Role::Runner),
            Permission::Grade => matches!(self, Role::Admin | Role::Reviewer),
            Permission::Admin | Permission::Audit | Permission::Trash => self == Role::Admin,
        }
    }

    /// Everything this role may do, `other` may do too (a reviewer is not within a viewer: a
    /// viewer may not grade; nor a viewer within a reviewer: reviewers never read answers beside
    /// their models).
    pub fn within(self, other: Role) -> bool {
        Permission::ALL.into_iter().all(|p| !self.allows(p) || other.allows(p))
    }

    /// The role an API token acts with: the highest role within both the token's and its owner's
    /// current role ("min(token, user)"); None when no role is (a runner token of a user who is
    /// now a reviewer: neither may do all the other does).
    pub fn capped(token: Role, user: Role) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.within(token) && r.within(user))
    }
}

/// What a caller wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    /// Read runs, charts, datasets, endpoints, prices, reports.
    View,
    /// Read answers together with the model, run or endpoint that wrote them (records, answer
    /// lists, side by side). Everyone but reviewers, who grade blind.
    ReadAnswers,
    /// Launch and cancel runs; upload datasets; import; add endpoints; edit prices; make queues.
    Run,
    /// Grade answers and vote.
    Grade,
    /// Manage users, and what runs on the server (launch commands).
    Admin,
    /// Read the audit log (who did what and when): admins.
    Audit,
    /// See what is in the trash, restore it or delete it for good: admins.
    Trash,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Permission::View,
        Permission::ReadAnswers,
        Permission::Run,
        Permission::Grade,
        Permission::Admin,
        Permission::Audit,
        Permission::Trash,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::ReadAnswers => "see answers with their models (reviewers grade blind)",
            Permission::Run => "launch runs and change data (runner or admin)",
            Permission::Grade => "grade answers (reviewer or admin)",
            Permission::Admin => "manage users and launch commands (admin)",
            Permission::Audit => "read the audit log (admin)",
            Permission::Trash => "open the trash (only admins see and restore the trash)",
        }
    }
}

/// A name people can type and read back: 1-64 letters, digits, '.', '-', '_'.
pub fn valid_user_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("user names are 1-64 letters, digits, '.', '-' or '_'; got '{name}'"))
    }
}

/// Passwords of at least 8 characters (NIST SP 800-63B's minimum).
pub fn valid_password(pw: &str) -> Result<(), String> {
    if pw.chars().count() >= 8 {
        Ok(())
    } else {
        Err("a password needs at least 8 characters".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_their_names_say() {
        assert!(Role::Viewer.allows(Permission::View) && !Role::Viewer.allows(Permission::Grade) && !Role::Viewer.allows(Permission::Run));
        assert!(Role::Reviewer.allows(Permission::Grade) && !Role::Reviewer.allows(Permission::Run));
        assert!(Role::Runner.allows(Permission::Run) && !Role::Runner.allows(Permission::Grade) && !Role::Runner.allows(Permission::Admin));
        assert!(Role::ALL.iter().all(|p| Role::Admin.allows(match p {
            Role::Admin => Permission::Admin,
            Role::Runner => Permission::Run,
            Role::Reviewer => Permission::Grade,
            Role::Viewer => Permission::View,
        })));
    }

    #[test]
    fn a_token_acts_with_the_lower_of_its_role_and_its_owners() {
        use Role::*;
        assert_eq!(Role::capped(Admin, Admin), Some(Admin));
        assert_eq!(Role::capped(Admin, Runner), Some(Runner));
        assert_eq!(Role::capped(Runner, Admin), Some(Runner));
        assert_eq!(Role::capped(Runner, Viewer), Some(Viewer));
        assert_eq!(Role::capped(Admin, Reviewer), Some(Reviewer));
        // Neither holds the other: no role is within both (a viewer reads answers, which a
        // reviewer may not; a runner may not grade).
        assert_eq!(Role::capped(Viewer, Reviewer), None);
        assert_eq!(Role::capped(Runner, Reviewer), None);
        assert!(Role::ALL.iter().all(|r| r.within(Admin) && r.within(*r)));
        assert!(!Admin.within(Runner) && !Reviewer.within(Viewer) && !Viewer.within(Reviewer));
        assert!(Viewer.within(Runner));
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(valid_user_name("ana.b-1").is_ok());
        assert!(valid_user_name("no spaces").is_err());
        assert!(valid_password("short").is_err());
        assert!(valid_password("long enough").is_ok());
        assert_eq!(Role::parse(" Reviewer "), Some(Role::Reviewer));
    }
}

crate::sql_text!(Role);
