// The migrations are embedded by `sqlx::migrate!`: a new migration file alone must rebuild the
// crate (sqlx's documented build script).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
