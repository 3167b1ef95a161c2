//! PostgreSQL storage: a deadpool pool of tokio-postgres clients with per-connection prepared
//! statement caches.
//!
//! Parameters and results are converted here by the column's actual PostgreSQL type, not by a
//! fixed Rust type, so an `Int` bound to an `INTEGER`, `SMALLINT` or `NUMERIC` column, or a
//! timestamp given as RFC 3339 text, all just work, and results come back as the same
//! [`SqlValue`]s SQLite produces.

use super::codec::{self, normalize};
use super::{Executor, Row, StoreError};
use crate::error::ApiError;
use crate::sql::{Decode, Dialect, SqlValue};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use std::error::Error as StdError;
use std::str::FromStr;
use tokio_postgres::types::private::BytesMut;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};
use tokio_postgres::NoTls;

type BoxError = Box<dyn StdError + Sync + Send>;

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    description: String,
    /// The connection settings, for connections outside the pool (the LISTEN connection).
    config: std::sync::Arc<tokio_postgres::Config>,
}

impl PostgresStore {
    pub async fn connect(
        url: &str,
        pool_size: usize,
        statement_timeout: std::time::Duration,
    ) -> Result<PostgresStore, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|error| StoreError::Unavailable(format!("invalid PostgreSQL URL: {error}")))?;
        // A runaway statement is cancelled by the server (SQLSTATE 57014, answered 503) instead
        // of holding a pooled connection and its locks; a dead peer is noticed by TCP keepalive
        // instead of hanging a request until the kernel gives up.
        let timeout_ms = statement_timeout.as_millis().max(1);
        let options = match config.get_options() {
            Some(existing) => format!("{existing} -c statement_timeout={timeout_ms}"),
            None => format!("-c statement_timeout={timeout_ms}"),
        };
        config
            .options(&options)
            .connect_timeout(std::time::Duration::from_secs(5))
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("plinth");
        }
        let listen_config = config.clone();
        let description = describe_config(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        let store = PostgresStore {
            pool,
            description,
            config: std::sync::Arc::new(listen_config),
        };
        // Fail at startup, not at the first request, when the server is unreachable.
        let _connection = store.client().await?;
        Ok(store)
    }

    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// The connection settings (the pool's), for a dedicated connection such as LISTEN's.
    pub fn connection_config(&self) -> std::sync::Arc<tokio_postgres::Config> {
        self.config.clone()
    }

    pub fn pool_usage(&self) -> (usize, usize) {
        let status = self.pool.status();
        (
            status.size.saturating_sub(status.available),
            status.max_size,
        )
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))
    }

    /// The async fast path for a single query.
    pub async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
        decode: &[Decode],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        query_on(&client, sql, params, decode).await
    }

    /// Runs `work` on a blocking thread with one connection, in a transaction when asked.
    pub async fn run<T, F>(&self, transactional: bool, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Executor) -> Result<T, ApiError> + Send + 'static,
    {
        let client = self.client().await.map_err(ApiError::from)?;
        let handle = tokio::runtime::Handle::current();
        super::sqlite::run_blocking(move || {
            let mut executor = PostgresExecutor {
                client: &client,
                handle: &handle,
            };
            if transactional {
                executor.batch("BEGIN").map_err(ApiError::from)?;
            }
            let result = work(&mut executor);
            if !transactional {
                return result;
            }
            match result {
                Ok(value) => {
                    executor.batch("COMMIT").map_err(ApiError::from)?;
                    Ok(value)
                }
                Err(error) => {
                    if executor.batch("ROLLBACK").is_err() {
                        // A connection in an unknown state must not go back to the pool.
                        let _ = Object::take(client);
                    }
                    Err(error)
                }
            }
        })
        .await
    }
}

fn describe_config(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    let user = config.get_user().unwrap_or("postgres");
    format!("postgres://{user}@{host}:{port}/{database}")
}

async fn query_on(
    client: &Object,
    sql: &str,
    params: &[SqlValue],
    decode: &[Decode],
) -> Result<Vec<Row>, StoreError> {
    metrics::counter!("plinth_db_queries_total").increment(1);
    let statement = client.prepare_cached(sql).await.map_err(classify)?;
    let params: Vec<Param<'_>> = params.iter().map(Param).collect();
    let references: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|param| param as &(dyn ToSql + Sync))
        .collect();
    let rows = client
        .query(&statement, &references)
        .await
        .map_err(classify)?;
    let mut result = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(row.len());
        for index in 0..row.len() {
            let PgValue(value) = row.try_get(index).map_err(classify)?;
            values.push(normalize(value, decode.get(index).unwrap_or(&Decode::Text)));
        }
        result.push(values);
    }
    Ok(result)
}

struct PostgresExecutor<'a> {
    client: &'a Object,
    handle: &'a tokio::runtime::Handle,
}

impl Executor for PostgresExecutor<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        decode: &[Decode],
    ) -> Result<Vec<Row>, StoreError> {
        self.handle
            .block_on(query_on(self.client, sql, params, decode))
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        let client = self.client;
        metrics::counter!("plinth_db_queries_total").increment(1);
        self.handle.block_on(async move {
            let statement = client.prepare_cached(sql).await.map_err(classify)?;
            let params: Vec<Param<'_>> = params.iter().map(Param).collect();
            let references: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|param| param as &(dyn ToSql + Sync))
                .collect();
            client
                .execute(&statement, &references)
                .await
                .map_err(classify)
        })
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let client = self.client;
        metrics::counter!("plinth_db_queries_total").increment(1);
        self.handle
            .block_on(async move { client.batch_execute(sql).await.map_err(classify) })
    }
}

fn classify(error: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    if let Some(database_error) = error.as_db_error() {
        let detail = format!(
            "{} ({}{})",
            database_error.message(),
            database_error.code().code(),
            database_error
                .constraint()
                .map(|name| format!(", constraint {name}"))
                .unwrap_or_default()
        );
        let code = database_error.code();
        return if *code == SqlState::UNIQUE_VIOLATION {
            StoreError::Unique(detail)
        } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
            StoreError::ForeignKey(detail)
        } else if *code == SqlState::NOT_NULL_VIOLATION {
            StoreError::NotNull(format!(
                "{}.{}",
                database_error.table().unwrap_or(""),
                database_error.column().unwrap_or("")
            ))
        } else if *code == SqlState::CHECK_VIOLATION {
            StoreError::Check(detail)
        } else if code.code().starts_with("22") {
            // Class 22: data exceptions (out of range, invalid text representation, too long).
            StoreError::InvalidValue(detail)
        } else if ["08", "53", "57"]
            .iter()
            .any(|class| code.code().starts_with(class))
        {
            // Connection exceptions, insufficient resources (too many connections), operator
            // intervention (shutdown, statement timeout): the database, not the request.
            StoreError::Unavailable(detail)
        } else {
            StoreError::Other(detail)
        };
    }
    if error.is_closed() {
        return StoreError::Unavailable(error.to_string());
    }
    let text = error.to_string();
    if text.contains("serializing parameter") {
        let cause = error
            .source()
            .map(|source| source.to_string())
            .unwrap_or_default();
        return StoreError::InvalidValue(format!("{text}: {cause}"));
    }
    if text.contains("deserializ") {
        return StoreError::Other(text);
    }
    // Anything else without a database error is the transport: a reset or refused connection,
    // a timeout, a server that went away mid-query.
    StoreError::Unavailable(text)
}

/// A result value of any PostgreSQL type.
struct PgValue(SqlValue);

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        decode_value(ty, raw).map(PgValue)
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(PgValue(SqlValue::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], BoxError> {
    raw.get(..N)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| "value too short".into())
}

fn decode_value(ty: &Type, raw: &[u8]) -> Result<SqlValue, BoxError> {
    Ok(match *ty {
        Type::BOOL => SqlValue::Bool(raw.first().is_some_and(|byte| *byte != 0)),
        Type::INT2 => SqlValue::Int(i64::from(i16::from_be_bytes(fixed(raw)?))),
        Type::INT4 => SqlValue::Int(i64::from(i32::from_be_bytes(fixed(raw)?))),
        Type::INT8 => SqlValue::Int(i64::from_be_bytes(fixed(raw)?)),
        Type::OID => SqlValue::Int(i64::from(u32::from_be_bytes(fixed(raw)?))),
        Type::FLOAT4 => SqlValue::Float(f64::from(f32::from_be_bytes(fixed(raw)?))),
        Type::FLOAT8 => SqlValue::Float(f64::from_be_bytes(fixed(raw)?)),
        Type::NUMERIC => SqlValue::Text(codec::decode_numeric(raw).ok_or("invalid numeric")?),
        Type::BYTEA => SqlValue::Bytes(raw.to_vec()),
        Type::JSON => SqlValue::Json(serde_json::from_slice(raw)?),
        Type::JSONB => SqlValue::Json(serde_json::from_slice(raw.get(1..).unwrap_or_default())?),
        Type::UUID => {
            let bytes: [u8; 16] = fixed(raw)?;
            SqlValue::Text(uuid::Uuid::from_bytes(bytes).hyphenated().to_string())
        }
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let micros = i64::from_be_bytes(fixed(raw)?);
            match codec::from_postgres_micros(micros) {
                Some(moment) => SqlValue::Text(codec::format_datetime(moment)),
                None => SqlValue::Null,
            }
        }
        Type::DATE => {
            let days = i32::from_be_bytes(fixed(raw)?);
            match codec::from_postgres_micros(i64::from(days) * 86_400_000_000) {
                Some(moment) => SqlValue::Text(codec::format_datetime(moment)),
                None => SqlValue::Null,
            }
        }
        _ => match ty.kind() {
            Kind::Array(element) => decode_array(element, raw)?,
            // Text-like types, enums (their binary form is the label), citext, domains over text.
            _ => SqlValue::Text(String::from_utf8_lossy(raw).into_owned()),
        },
    })
}

/// A one-dimensional array as a JSON array.
fn decode_array(element: &Type, raw: &[u8]) -> Result<SqlValue, BoxError> {
    let mut cursor = raw;
    let mut take = |count: usize| -> Result<&[u8], BoxError> {
        if cursor.len() < count {
            return Err("array value too short".into());
        }
        let (head, tail) = cursor.split_at(count);
        cursor = tail;
        Ok(head)
    };
    let dimensions = i32::from_be_bytes(fixed(take(4)?)?);
    take(8)?; // has-null flag and element type
    if dimensions == 0 {
        return Ok(SqlValue::Json(serde_json::Value::Array(Vec::new())));
    }
    let mut length = 1usize;
    for _ in 0..dimensions {
        length = length.saturating_mul(i32::from_be_bytes(fixed(take(4)?)?).max(0) as usize);
        take(4)?;
    }
    let mut items = Vec::with_capacity(length.min(1024));
    for _ in 0..length {
        let size = i32::from_be_bytes(fixed(take(4)?)?);
        if size < 0 {
            items.push(serde_json::Value::Null);
            continue;
        }
        let value = decode_value(element, take(size as usize)?)?;
        items.push(crate::wire::plain_json(&value));
    }
    Ok(SqlValue::Json(serde_json::Value::Array(items)))
}

/// A parameter converted to whatever type PostgreSQL inferred for its placeholder.
#[derive(Debug)]
struct Param<'a>(&'a SqlValue);

fn text_of(value: &SqlValue) -> Option<String> {
    match value {
        SqlValue::Text(text) => Some(text.clone()),
        SqlValue::Int(number) => Some(number.to_string()),
        SqlValue::Float(number) => Some(number.to_string()),
        SqlValue::Bool(flag) => Some(flag.to_string()),
        SqlValue::Json(json) => Some(json.to_string()),
        SqlValue::Bytes(_) | SqlValue::Null => None,
    }
}

fn integer_of(value: &SqlValue) -> Result<i64, BoxError> {
    match value {
        SqlValue::Int(number) => Ok(*number),
        SqlValue::Bool(flag) => Ok(i64::from(*flag)),
        SqlValue::Float(number) if number.fract() == 0.0 => Ok(*number as i64),
        SqlValue::Text(text) => Ok(text.trim().parse()?),
        _ => Err("not an integer".into()),
    }
}

fn float_of(value: &SqlValue) -> Result<f64, BoxError> {
    match value {
        SqlValue::Float(number) => Ok(*number),
        SqlValue::Int(number) => Ok(*number as f64),
        SqlValue::Text(text) => Ok(text.trim().parse()?),
        _ => Err("not a number".into()),
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let value = self.0;
        if matches!(value, SqlValue::Null) {
            return Ok(IsNull::Yes);
        }
        match *ty {
            Type::BOOL => {
                let flag = match value {
                    SqlValue::Bool(flag) => *flag,
                    SqlValue::Int(number) => *number != 0,
                    SqlValue::Text(text) => matches!(text.as_str(), "true" | "t" | "1"),
                    _ => return Err("not a boolean".into()),
                };
                out.extend_from_slice(&[u8::from(flag)]);
            }
            Type::INT2 => {
                let number = i16::try_from(integer_of(value)?)?;
                out.extend_from_slice(&number.to_be_bytes());
            }
            Type::INT4 => {
                let number = i32::try_from(integer_of(value)?)?;
                out.extend_from_slice(&number.to_be_bytes());
            }
            Type::INT8 => out.extend_from_slice(&integer_of(value)?.to_be_bytes()),
            Type::OID => {
                let number = u32::try_from(integer_of(value)?)?;
                out.extend_from_slice(&number.to_be_bytes());
            }
            Type::FLOAT4 => out.extend_from_slice(&(float_of(value)? as f32).to_be_bytes()),
            Type::FLOAT8 => out.extend_from_slice(&float_of(value)?.to_be_bytes()),
            Type::NUMERIC => {
                let text = text_of(value).ok_or("not a decimal")?;
                out.extend_from_slice(&codec::encode_numeric(&text).ok_or("not a decimal")?);
            }
            Type::BYTEA => match value {
                SqlValue::Bytes(bytes) => out.extend_from_slice(bytes),
                SqlValue::Text(text) => out.extend_from_slice(text.as_bytes()),
                _ => return Err("not bytes".into()),
            },
            Type::JSON | Type::JSONB => {
                if *ty == Type::JSONB {
                    out.extend_from_slice(&[1]);
                }
                match value {
                    SqlValue::Json(json) => out.extend_from_slice(json.to_string().as_bytes()),
                    SqlValue::Text(text) => {
                        // Text bound to a JSON column is JSON already (how SQLite stores it).
                        serde_json::from_str::<serde_json::Value>(text)?;
                        out.extend_from_slice(text.as_bytes());
                    }
                    other => {
                        out.extend_from_slice(crate::wire::plain_json(other).to_string().as_bytes())
                    }
                }
            }
            Type::UUID => {
                let text = text_of(value).ok_or("not a uuid")?;
                out.extend_from_slice(uuid::Uuid::parse_str(text.trim())?.as_bytes());
            }
            Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::DATE => {
                let text = text_of(value).ok_or("not a timestamp")?;
                let moment = codec::parse_datetime(&text).ok_or("not a timestamp")?;
                let micros = codec::postgres_micros(moment);
                if *ty == Type::DATE {
                    out.extend_from_slice(
                        &((micros.div_euclid(86_400_000_000)) as i32).to_be_bytes(),
                    );
                } else {
                    out.extend_from_slice(&micros.to_be_bytes());
                }
            }
            _ => {
                if let Kind::Array(_) = ty.kind() {
                    return Err("array parameters are not supported".into());
                }
                // Text, varchar, enums (sent as their label), citext and other text-like types.
                let text = text_of(value).ok_or("not text")?;
                out.extend_from_slice(text.as_bytes());
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}
