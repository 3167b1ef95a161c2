//! The one place the server meets the query builder (`plinth_sql::query`): everything else
//! imports statement types from here.

pub use plinth_sql::query::{
    check_policy_on_row, cursor_fields, delete, include_key_field, insert, select_by_id,
    select_list, select_related, update, Caller, Decode, FilterClause, FilterOp, ListQuery,
    Projection, QueryError, SortKey, SqlValue, Statement,
};
pub use plinth_sql::Dialect;

use crate::error::ApiError;

/// A statement the builder could not make: a cursor that does not fit the list is the client's
/// fault (422, as the list handler answers it); anything else is a server bug (500, logged).
pub fn query_error(error: QueryError) -> ApiError {
    match error {
        QueryError::BadCursor { .. } => ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
            "the cursor is not one this list handed out for this `sort`",
        ),
        other => ApiError::internal(other),
    }
}
