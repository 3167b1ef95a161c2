//! Names on the wire: model names → kebab-case plural resource names (`OrderItem` → `order-items`)
//! and the PascalCase forms used in operation ids.

/// Splits an identifier into lowercase words at case changes, digits-to-letters changes,
/// underscores and hyphens: `OrderItem` → `order`, `item`; `HTTPRequest` → `http`, `request`.
pub fn words(identifier: &str) -> Vec<String> {
    let characters: Vec<char> = identifier.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (position, &character) in characters.iter().enumerate() {
        if character == '_' || character == '-' || character.is_whitespace() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if character.is_uppercase() && !current.is_empty() {
            let previous = characters[position - 1];
            let next_is_lowercase = characters
                .get(position + 1)
                .is_some_and(|next| next.is_lowercase());
            // A new word starts at `aB` (camel hump), `1B`, and at the last capital of an acronym
            // that is followed by a lowercase letter (`HTTPRequest` → `HTTP` + `Request`).
            let starts_word = previous.is_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_uppercase() && next_is_lowercase);
            if starts_word {
                words.push(std::mem::take(&mut current));
            }
        }
        current.extend(character.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `OrderItem` → `order-item`.
pub fn kebab_case(identifier: &str) -> String {
    words(identifier).join("-")
}

/// `order-items` → `OrderItems`, `OrderItem` → `OrderItem`.
pub fn pascal_case(identifier: &str) -> String {
    words(identifier)
        .iter()
        .map(|word| {
            let mut characters = word.chars();
            match characters.next() {
                Some(first) => first.to_uppercase().chain(characters).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// Irregular plurals worth knowing for model names; everything else follows the rules in
/// [`pluralize_word`].
const IRREGULAR_PLURALS: &[(&str, &str)] = &[
    ("person", "people"),
    ("child", "children"),
    ("man", "men"),
    ("woman", "women"),
    ("mouse", "mice"),
    ("goose", "geese"),
    ("tooth", "teeth"),
    ("foot", "feet"),
    ("ox", "oxen"),
    ("leaf", "leaves"),
    ("life", "lives"),
    ("knife", "knives"),
    ("wife", "wives"),
    ("half", "halves"),
    ("shelf", "shelves"),
    ("wolf", "wolves"),
    ("criterion", "criteria"),
    ("phenomenon", "phenomena"),
    ("index", "indexes"),
    ("quiz", "quizzes"),
];

/// Words whose plural is the word itself.
const UNCOUNTABLE: &[&str] = &[
    "data",
    "metadata",
    "equipment",
    "information",
    "info",
    "news",
    "series",
    "species",
    "sheep",
    "fish",
    "deer",
    "feedback",
    "media",
    "analytics",
    "settings",
    "staff",
    "software",
    "hardware",
];

/// English plural of one lowercase word.
pub fn pluralize_word(word: &str) -> String {
    if word.is_empty() || UNCOUNTABLE.contains(&word) {
        return word.to_string();
    }
    if let Some((_, plural)) = IRREGULAR_PLURALS.iter().find(|(single, _)| *single == word) {
        return (*plural).to_string();
    }
    // Irregulars also apply as the tail of a compound word written as one (`salesperson`).
    for (single, plural) in IRREGULAR_PLURALS {
        if word.len() > single.len() + 2 && word.ends_with(single) && single.len() >= 5 {
            return format!("{}{}", &word[..word.len() - single.len()], plural);
        }
    }
    let ends_with_consonant_then = |suffix: char| {
        let mut reversed = word.chars().rev();
        reversed.next() == Some(suffix)
            && reversed
                .next()
                .is_some_and(|before| !"aeiou".contains(before))
    };
    if ends_with_consonant_then('y') {
        return format!("{}ies", &word[..word.len() - 1]);
    }
    if word.ends_with("is") && word.len() > 3 {
        // analysis → analyses, basis → bases
        return format!("{}es", &word[..word.len() - 2]);
    }
    if word.ends_with("ss")
        || word.ends_with("us")
        || word.ends_with("as")
        || word.ends_with('x')
        || word.ends_with('z')
        || word.ends_with("ch")
        || word.ends_with("sh")
    {
        return format!("{word}es");
    }
    if word.ends_with('s') {
        // Already plural as written (`Stats`, `Notes`, `Items`): keep it.
        return word.to_string();
    }
    format!("{word}s")
}

/// The resource name of a model: kebab-case with the last word in the plural.
/// `Task` → `tasks`, `OrderItem` → `order-items`, `Person` → `people`.
pub fn plural_kebab_case(model_name: &str) -> String {
    let mut parts = words(model_name);
    match parts.last_mut() {
        Some(last) => *last = pluralize_word(last),
        None => return String::new(),
    }
    parts.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_kebab_case_of_common_model_names() {
        let cases = [
            ("Task", "tasks"),
            ("OrderItem", "order-items"),
            ("Category", "categories"),
            ("Address", "addresses"),
            ("Person", "people"),
            ("Status", "statuses"),
            ("Box", "boxes"),
            ("Key", "keys"),
            ("Day", "days"),
            ("User", "users"),
            ("SpaceUser", "space-users"),
            ("Child", "children"),
            ("Match", "matches"),
            ("Wish", "wishes"),
            ("Analysis", "analyses"),
            ("Metadata", "metadata"),
            ("UserSettings", "user-settings"),
            ("Notes", "notes"),
            ("HTTPRequest", "http-requests"),
            ("order_item", "order-items"),
            ("Salesperson", "salespeople"),
            ("Alias", "aliases"),
            ("Quiz", "quizzes"),
            ("Photo", "photos"),
            ("Api2Key", "api2-keys"),
            ("VerificationToken", "verification-tokens"),
        ];
        for (model, expected) in cases {
            assert_eq!(plural_kebab_case(model), expected, "plural of {model}");
        }
    }

    #[test]
    fn kebab_and_pascal_case() {
        assert_eq!(kebab_case("OrderItem"), "order-item");
        assert_eq!(kebab_case("userID"), "user-id");
        assert_eq!(pascal_case("order-items"), "OrderItems");
        assert_eq!(pascal_case("Task"), "Task");
        assert_eq!(pascal_case("order_item"), "OrderItem");
        assert_eq!(kebab_case(""), "");
        assert_eq!(plural_kebab_case(""), "");
    }
}
