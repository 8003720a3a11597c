//! A query built piece by piece, with the parameters each backend wants: numbered `$N` for
//! Postgres (sqlx's `QueryBuilder` writes `?` for the `Any` driver whatever the backend, which
//! Postgres refuses), plain `?` for SQLite. SQLite looks a named parameter (`$N` is one) up in a
//! list, one by one, when it binds: a 500-row insert of 21 columns then took 30 times as long as
//! with `?` (BENCHMARKS.md, "Postgres").

use sqlx::any::AnyArguments;
use sqlx::Arguments;
use std::fmt::Display;

pub struct Sql<'args> {
    sql: String,
    args: AnyArguments<'args>,
    n: usize,
    positional: bool,
}

impl<'args> Sql<'args> {
    /// Numbered parameters (`$1`, `$2`, ...), which both backends read.
    pub fn new(init: impl Into<String>) -> Self {
        Sql {
            sql: init.into(),
            args: AnyArguments::default(),
            n: 0,
            positional: false,
        }
    }

    /// The parameters `backend` binds fastest: `?` on SQLite, `$N` on Postgres. (Text pushed
    /// into the query must then hold no `$N` of its own.)
    pub fn for_backend(backend: super::pool::Backend, init: impl Into<String>) -> Self {
        let mut q = Sql::new(init);
        q.positional = backend == super::pool::Backend::Sqlite;
        q
    }

    pub fn push(&mut self, text: impl Display) -> &mut Self {
        use std::fmt::Write;
        let _ = write!(self.sql, "{text}");
        self
    }

    /// A parameter (`$N`, numbered in order) and its value.
    pub fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'args + sqlx::Encode<'args, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.n += 1;
        let n = self.n;
        if self.positional {
            self.sql.push('?');
        } else {
            self.push(format_args!("${n}"));
        }
        // Encoding into the Any driver's buffer does not fail for the types used here; if it
        // did, the statement fails with sqlx's own error when it runs.
        let _ = self.args.add(value);
        self
    }

    /// ` VALUES (..), (..)`: one parenthesised row per item, its values bound by `row`.
    pub fn push_values<I, F>(&mut self, items: I, mut row: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Row<'_, 'args>, I::Item),
    {
        self.push(" VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            row(Row { sql: self, first: true }, item);
            self.push(")");
        }
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn build(&mut self) -> sqlx::query::Query<'_, sqlx::Any, AnyArguments<'_>> {
        sqlx::query_with(self.sql.as_str(), std::mem::take(&mut self.args))
    }

    pub fn build_query_scalar<O>(&mut self) -> sqlx::query::QueryScalar<'_, sqlx::Any, O, AnyArguments<'_>>
    where
        (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_scalar_with(self.sql.as_str(), std::mem::take(&mut self.args))
    }

    pub fn build_query_as<O>(&mut self) -> sqlx::query::QueryAs<'_, sqlx::Any, O, AnyArguments<'_>>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_as_with(self.sql.as_str(), std::mem::take(&mut self.args))
    }
}

/// One row of [`Sql::push_values`]: its values, comma-separated.
pub struct Row<'a, 'args> {
    sql: &'a mut Sql<'args>,
    first: bool,
}

impl<'args> Row<'_, 'args> {
    pub fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'args + sqlx::Encode<'args, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        if !self.first {
            self.sql.push(", ");
        }
        self.first = false;
        self.sql.push_bind(value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order_across_pieces_and_rows() {
        let mut q = Sql::new("INSERT INTO t (a, b)");
        q.push_values([(1i64, "x"), (2, "y")], |mut r, (a, b)| {
            r.push_bind(a).push_bind(b);
        });
        q.push(" ON CONFLICT DO NOTHING RETURNING ").push_bind(5i64);
        assert_eq!(
            q.sql(),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING RETURNING $5"
        );
    }
}
