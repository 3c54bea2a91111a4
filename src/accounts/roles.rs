//! Roles and what each may do: one table, checked by the service on every request.

use serde::Serialize;

/// A role: what an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees and flags the recordings that carry their own officer id.
    Officer,
    /// Sees recordings and plans redactions.
    Reviewer,
    /// Sees recordings, renders redactions, runs SARs and discloses.
    Disclosure,
    /// Reads everything and verifies; changes nothing.
    Auditor,
    /// Manages accounts and policy; sees no footage.
    Admin,
}

/// One thing a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// List recordings and read their metadata and events.
    ReadRecordings,
    /// Play a proxy, see thumbnails and contact sheets.
    ViewFootage,
    /// Download a master.
    DownloadMaster,
    /// Flag or unflag as evidence.
    Flag,
    /// Place or release holds.
    Hold,
    /// Plan redactions.
    Plan,
    /// Render redactions, run SARs and disclose.
    Disclose,
    /// Read subject access requests (with the requester's name) and their disclosures.
    ReadSars,
    /// Verify recordings and the log.
    Verify,
    /// Read the log's checkpoints and proofs.
    ReadLog,
    /// Manage accounts.
    ManageAccounts,
    /// Set the retention policy and run the sweep.
    ManagePolicy,
    /// Queue the ingest of a dock the service was given.
    Ingest,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Officer,
        Role::Reviewer,
        Role::Disclosure,
        Role::Auditor,
        Role::Admin,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Reviewer => "reviewer",
            Role::Disclosure => "disclosure",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the role may do `p` (an officer only on their own recordings: see
    /// [`Role::sees_only_own`]).
    pub fn allows(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Officer => matches!(p, P::ReadRecordings | P::ViewFootage | P::Flag | P::ReadLog),
            Role::Reviewer => {
                matches!(p, P::ReadRecordings | P::ViewFootage | P::Plan | P::ReadLog)
            }
            Role::Disclosure => matches!(
                p,
                P::ReadRecordings
                    | P::ViewFootage
                    | P::DownloadMaster
                    | P::Flag
                    | P::Hold
                    | P::Plan
                    | P::Disclose
                    | P::ReadSars
                    | P::ReadLog
            ),
            Role::Auditor => matches!(
                p,
                P::ReadRecordings
                    | P::ViewFootage
                    | P::DownloadMaster
                    | P::ReadSars
                    | P::Verify
                    | P::ReadLog
            ),
            Role::Admin => matches!(
                p,
                P::ManageAccounts | P::ManagePolicy | P::Ingest | P::Verify | P::ReadLog
            ),
        }
    }

    /// Whether the role sees only recordings that carry the account's officer id.
    pub fn sees_only_own(self) -> bool {
        self == Role::Officer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_no_role_but_admin_manages_accounts() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(r.allows(Permission::ManageAccounts), r == Role::Admin);
        }
        assert_eq!(Role::parse("root"), None);
        assert!(!Role::Admin.allows(Permission::ViewFootage));
        assert!(!Role::Auditor.allows(Permission::Flag));
        assert!(Role::Officer.sees_only_own() && !Role::Auditor.sees_only_own());
    }
}
