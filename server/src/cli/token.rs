//! `bakeoff token create|list|revoke`: API tokens for scripts from a terminal on the server (who
//! can open the database file may make a token for any user). The token is printed once on
//! stdout, how to use it on stderr.

use super::DbArg;
use app::db::audit::Actor;
use app::domain::accounts::Role;
use app::domain::clock;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make an API token for scripts (printed once, on stdout; send it as `Authorization: Bearer TOKEN`).
    Create {
        /// What uses it, e.g. "nightly benchmark".
        name: String,
        /// What it may do, at most its user's role (default: the user's role).
        #[arg(long)]
        role: Option<String>,
        /// It stops working after this many days (default: never).
        #[arg(long, value_name = "DAYS")]
        expires: Option<u32>,
        /// Whose token it is (default: the only admin, when there is exactly one).
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// List API tokens (never the tokens themselves): id, name, user, role, state, last use.
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Revoke an API token by its id (see `bakeoff token list`): scripts using it get 401.
    Revoke {
        id: i64,
        #[command(flatten)]
        db: DbArg,
    },
}

pub async fn dispatch(cmd: TokenCommand) -> anyhow::Result<()> {
    let actor = Actor::named("cli");
    match cmd {
        TokenCommand::Create {
            name,
            role,
            expires,
            user,
            db,
        } => {
            let pool = app::db::connect(&db.path).await?;
            let owner = owner(&pool, user.as_deref()).await?;
            // Said of the user named, not of "you": the operator at the terminal is no user.
            if let Some(asked) = role.as_deref().and_then(Role::parse) {
                anyhow::ensure!(asked.within(owner.role), "{}", above_user(&owner.name, owner.role, asked));
            }
            let days = expires.map(|d| d.to_string());
            let made = app::api::tokens::create(
                &pool,
                (owner.id, &owner.name),
                owner.role,
                &actor,
                &name,
                role.as_deref(),
                days.as_deref(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", made.token);
            eprintln!(
                "API token {} '{}' for {} (role {}, {}). It is shown only now: keep it like a password.\n\
                 Send it with every request, e.g.\n  curl -H \"Authorization: Bearer $BAKEOFF_TOKEN\" http://127.0.0.1:3000/api/runs\n\
                 Revoke it with `bakeoff token revoke {}` or on the API tokens page.",
                made.id,
                made.name,
                owner.name,
                made.role.label(),
                made.expires_at
                    .map_or("no expiry".to_string(), |e| format!("expires {}", clock::readable(e))),
                made.id
            );
        }
        TokenCommand::List { user, db } => {
            let pool = app::db::connect(&db.path).await?;
            let only = match user {
                Some(name) => Some(find_user(&pool, &name).await?.id),
                None => None,
            };
            let now = app::api::accounts::now_secs();
            let list = app::db::tokens::list(&pool, only).await?;
            if list.is_empty() {
                eprintln!("no API tokens yet: make one with `bakeoff token create NAME`");
            }
            let when = |t: Option<i64>| t.map_or("-".to_string(), clock::readable);
            for t in list {
                println!(
                    "{}\t{}\t{}\t{}\t{}\tcreated {}\tlast used {}\texpires {}",
                    t.id,
                    t.name,
                    t.owner,
                    t.role.label(),
                    t.state(now),
                    clock::readable(t.created_at),
                    when(t.last_used_at),
                    when(t.expires_at)
                );
            }
        }
        TokenCommand::Revoke { id, db } => {
            let pool = app::db::connect(&db.path).await?;
            let t = app::db::tokens::get(&pool, id)
                .await
                .map_err(|_| anyhow::anyhow!("there is no API token {id} (see `bakeoff token list`)"))?;
            if let Some(at) = t.revoked_at {
                eprintln!(
                    "API token {id} ({}) of {} was already revoked on {}",
                    t.name,
                    t.owner,
                    clock::readable(at)
                );
                return Ok(());
            }
            app::api::tokens::revoke_any(&pool, &actor, t.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("revoked API token {id} ({}) of {}: scripts using it now get 401", t.name, t.owner);
        }
    }
    Ok(())
}

/// Why a token of `asked` role may not be made for `user`, whose role is `role`: "rita is a
/// runner: a token cannot have a higher role than its user (asked for admin)".
fn above_user(user: &str, role: Role, asked: Role) -> String {
    let a = if role == Role::Admin { "an" } else { "a" };
    format!(
        "{user} is {a} {}: a token cannot have a higher role than its user (asked for {})",
        role.label(),
        asked.label()
    )
}

/// The user named, or else the only admin.
async fn owner(pool: &app::db::Db, name: Option<&str>) -> anyhow::Result<app::db::users::User> {
    if let Some(name) = name {
        return find_user(pool, name).await;
    }
    let admins: Vec<_> = app::db::users::list(pool)
        .await?
        .into_iter()
        .filter(|u| u.role == Role::Admin)
        .collect();
    match admins.as_slice() {
        [only] => Ok(only.clone()),
        [] => anyhow::bail!(
            "there is no admin in this database yet: start `bakeoff serve` once (it makes one), or say whose token it is with --user NAME"
        ),
        many => anyhow::bail!(
            "there are {} admins ({}): say whose token it is with --user NAME",
            many.len(),
            many.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

async fn find_user(pool: &app::db::Db, name: &str) -> anyhow::Result<app::db::users::User> {
    Ok(app::db::users::credentials(pool, name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no user named '{name}' (see `bakeoff user list`)"))?
        .0)
}
