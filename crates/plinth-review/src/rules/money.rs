//! The names that mean money, shared by `money-as-float` (SQL columns) and `float-for-money`
//! (schema fields), so that both rules judge a name the same way.

/// Words that make a name money: `unit_price`, `totalAmount`, `fee_cents`.
pub(super) const MONEY_WORDS: &[&str] = &[
    "price", "prices", "amount", "amounts", "cost", "costs", "balance", "balances", "fee", "fees",
    "salary", "money", "revenue", "tax", "subtotal", "payout", "wage", "wages", "budget", "refund",
    "discount", "total", "spend", "charge", "mrr", "arr",
];

/// Words that make a money-sounding name a ratio, a count or a measure: `tax_rate`,
/// `totalCount`, `cost_ms`, `feePercent`.
pub(super) const NOT_MONEY_WORDS: &[&str] = &[
    "rate",
    "ratio",
    "percent",
    "percentage",
    "pct",
    "count",
    "size",
    "bytes",
    "time",
    "ms",
    "seconds",
    "duration",
    "weight",
    "score",
    "factor",
    "multiplier",
    "quantity",
    "qty",
    "units",
    "tokens",
];
