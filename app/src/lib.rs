//! Bakeoff: choose an LLM for a batch job by measuring speed, quality and cost.
//!
//! One Leptos crate: `domain` and `charts` are pure and compile everywhere; `db` and `state` are
//! server-only (`ssr`); `api` holds server functions; `ui` renders pages.

/// Store an enum as its serde name (text) in either database: `Type`, `Encode` and `Decode` for
/// sqlx's `Any` driver (sqlx's own derive does not cover `Any`).
#[macro_export]
macro_rules! sql_text {
    ($t:ty) => {
        #[cfg(feature = "ssr")]
        impl sqlx::Type<sqlx::Any> for $t {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <&str as sqlx::Type<sqlx::Any>>::type_info()
            }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }
        #[cfg(feature = "ssr")]
        impl<'q> sqlx::Encode<'q, sqlx::Any> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                match serde_json::to_value(self)? {
                    serde_json::Value::String(s) => <String as sqlx::Encode<'q, sqlx::Any>>::encode(s, buf),
                    other => Err(format!("{other} is not stored as text").into()),
                }
            }
        }
        #[cfg(feature = "ssr")]
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $t {
            fn decode(value: <sqlx::Any as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                Ok(serde_json::from_value(serde_json::Value::String(s))?)
            }
        }
    };
}

pub mod api;
pub mod charts;
#[cfg(feature = "ssr")]
pub mod db;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod state;
pub mod ui;

pub use ui::app::{shell, App};

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
