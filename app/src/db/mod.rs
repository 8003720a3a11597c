//! SQLite through sqlx: one function per query. Only compiled for the server (`ssr`).

pub mod audit;
pub mod charts;
pub mod checks;
pub mod copy;
pub mod data_rules;
pub mod datasets;
pub mod endpoints;
mod error;
pub mod ids;
pub mod jobs;
pub mod leases;
pub mod maintenance;
pub mod metrics;
pub mod planning;
pub mod pool;
pub mod prices;
pub mod progress;
pub mod queues;
pub mod records;
pub mod reviewers;
pub mod runs;
pub mod sql;
pub mod sweeps;
pub mod tokens;
pub mod trash;
pub mod users;
pub mod workers;

pub use error::DbError;
pub use pool::{connect, write_tx, Db};

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

/// A yes/no column as either database stores it: SQLite as 0/1, Postgres as BOOLEAN. (sqlx's
/// `Any` driver decodes `bool` only from a BOOLEAN.) Fields decode it with
/// `#[sqlx(try_from = "crate::db::Flag")]`; tuples and scalars take it and convert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

impl sqlx::Type<sqlx::Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <bool as sqlx::Type<sqlx::Any>>::type_info()
    }
    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        use sqlx::any::AnyTypeInfoKind as K;
        matches!(ty.kind(), K::Bool | K::SmallInt | K::Integer | K::BigInt)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use sqlx::ValueRef;
        if value.type_info().kind() == sqlx::any::AnyTypeInfoKind::Bool {
            Ok(Flag(<bool as sqlx::Decode<sqlx::Any>>::decode(value)?))
        } else {
            Ok(Flag(<i64 as sqlx::Decode<sqlx::Any>>::decode(value)? != 0))
        }
    }
}

/// A nullable [`Flag`] (`#[sqlx(try_from = "crate::db::OptFlag")]` on an `Option<bool>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptFlag(pub Option<bool>);

impl From<OptFlag> for Option<bool> {
    fn from(f: OptFlag) -> Option<bool> {
        f.0
    }
}

impl sqlx::Type<sqlx::Any> for OptFlag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <Flag as sqlx::Type<sqlx::Any>>::type_info()
    }
    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <Flag as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for OptFlag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use sqlx::ValueRef;
        if value.is_null() {
            return Ok(OptFlag(None));
        }
        Ok(OptFlag(Some(<Flag as sqlx::Decode<sqlx::Any>>::decode(value)?.0)))
    }
}
