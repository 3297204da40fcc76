//! `Tag` (validated once at the edge) and `TagAction`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Maximum number of characters in a tag. Documented for the registry method only
/// (docs/defender-api.md §6); we enforce it for the API too: longer tags cannot be removed in the
/// portal.
pub const MAX_TAG_CHARS: usize = 200;

/// Characters that make the portal's tag filter misbehave (windows-itpro-docs #4920).
pub const PORTAL_FILTER_BREAKERS: [char; 3] = ['(', ')', ','];

/// The characters of `tag` that break the portal's tag filter ([`PORTAL_FILTER_BREAKERS`]), each
/// once, in order of first appearance. Takes any text: tags read from the API are not [`Tag`]s.
pub fn portal_filter_breakers(tag: &str) -> Vec<char> {
    let mut characters = Vec::new();
    for c in tag.chars() {
        if PORTAL_FILTER_BREAKERS.contains(&c) && !characters.contains(&c) {
            characters.push(c);
        }
    }
    characters
}

/// A tag we are willing to send: not empty or blank, at most 200 characters, no control
/// characters and no leading/trailing whitespace.
///
/// Tags read *from* the API stay plain `String`s: machines may already carry tags that these
/// rules reject, and we must still be able to show and remove them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

/// Why a string cannot be used as a tag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TagError {
    /// The input was empty.
    #[error("tag is empty; type a tag name")]
    Empty,
    /// The input contained only whitespace.
    #[error("tag contains only whitespace; type a tag name")]
    Blank,
    /// The input is longer than [`MAX_TAG_CHARS`].
    #[error("tag has {chars} characters; the maximum is {max}")]
    TooLong {
        /// Number of characters found.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The input contains a control character (newline, tab, NUL, ...).
    #[error(
        "tag contains a control character at position {position}; \
         remove line breaks, tabs and other invisible characters"
    )]
    ControlCharacter {
        /// 1-based character position of the first control character.
        position: usize,
    },
    /// The input starts or ends with whitespace.
    #[error("tag starts or ends with whitespace; remove the surrounding spaces")]
    SurroundingWhitespace,
}

/// Something legal but risky about a tag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TagWarning {
    /// The tag contains `(`, `)` or `,`, which break the portal's tag filter.
    #[error(
        "tag contains {}, which the Defender portal's tag filter cannot handle; \
         the API accepts it but portal users may not be able to filter by it",
        quote_chars(characters)
    )]
    BreaksPortalFilter {
        /// The offending characters, each once, in order of first appearance.
        characters: Vec<char>,
    },
}

fn quote_chars(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tag {
    /// Validates a tag. See [`TagError`] for what is rejected, checked in this order:
    /// empty, blank, control character, surrounding whitespace, length.
    pub fn parse(input: &str) -> Result<Self, TagError> {
        if input.is_empty() {
            return Err(TagError::Empty);
        }
        if input.chars().all(char::is_whitespace) {
            return Err(TagError::Blank);
        }
        if let Some(i) = input.chars().position(char::is_control) {
            return Err(TagError::ControlCharacter { position: i + 1 });
        }
        if input.trim() != input {
            return Err(TagError::SurroundingWhitespace);
        }
        let chars = input.chars().count();
        if chars > MAX_TAG_CHARS {
            return Err(TagError::TooLong {
                chars,
                max: MAX_TAG_CHARS,
            });
        }
        Ok(Self(input.to_owned()))
    }

    /// The tag text, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Warnings about a valid but risky tag (empty when there is nothing to say).
    pub fn warnings(&self) -> Vec<TagWarning> {
        let characters = portal_filter_breakers(&self.0);
        if characters.is_empty() {
            Vec::new()
        } else {
            vec![TagWarning::BreaksPortalFilter { characters }]
        }
    }

    /// [`Tag::warnings`] that matter for `action`: removing a tag that breaks the portal's
    /// filter is the fix, not a risk, so a removal has none.
    pub fn warnings_for(&self, action: TagAction) -> Vec<TagWarning> {
        match action {
            TagAction::Add => self.warnings(),
            TagAction::Remove => Vec::new(),
        }
    }

    /// Whether `other` is the same tag ignoring case (see [`eq_ignore_case`]).
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        eq_ignore_case(&self.0, other)
    }
}

/// Unicode case-insensitive equality (simple lowercase folding), without allocating.
///
/// Used for tag near-duplicate detection and for the OData matching semantics.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    // ASCII fast path (names, IPs and most tags): per-byte folding is exactly what char folding
    // does on ASCII, and the search box runs this over 100k machines per keystroke.
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Unicode case-insensitive prefix test (simple lowercase folding), without allocating.
pub fn starts_with_ignore_case(haystack: &str, prefix: &str) -> bool {
    let (h, p) = (haystack.as_bytes(), prefix.as_bytes());
    // ASCII fast path, exact: an ASCII prefix folds to as many chars as it has bytes, so only
    // the same number of haystack bytes matters, and when those are ASCII too they fold byte
    // for byte. (A non-ASCII haystack char can fold to ASCII, e.g. U+212A KELVIN SIGN to `k`,
    // hence the slow path whenever that region is not ASCII.)
    if p.is_ascii() {
        match h.get(..p.len()) {
            Some(region) if region.is_ascii() => return region.eq_ignore_ascii_case(p),
            None if h.is_ascii() => return false,
            _ => {}
        }
    }
    let mut h = haystack.chars().flat_map(char::to_lowercase);
    prefix
        .chars()
        .flat_map(char::to_lowercase)
        .all(|p| h.next() == Some(p))
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:?})", self.0)
    }
}

impl FromStr for Tag {
    type Err = TagError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Tag {
    type Error = TagError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl AsRef<str> for Tag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Whether a tag is added or removed. Serialised exactly as the API expects: `"Add"`/`"Remove"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TagAction {
    /// Add the tag (no effect if the machine already has it).
    Add,
    /// Remove the tag (no effect if the machine does not have it).
    Remove,
}

/// An action name that is neither `Add` nor `Remove`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown tag action {found:?}; expected \"Add\" or \"Remove\"")]
pub struct TagActionError {
    /// The text that was found.
    pub found: String,
}

impl TagAction {
    /// The action that undoes this one.
    pub fn inverse(self) -> Self {
        match self {
            Self::Add => Self::Remove,
            Self::Remove => Self::Add,
        }
    }

    /// The wire name (`"Add"` or `"Remove"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "Add",
            Self::Remove => "Remove",
        }
    }

    /// Applies the action to a tag list with the API's effect (exact, case-sensitive match;
    /// adding an existing tag or removing a missing one changes nothing). Returns whether the
    /// list changed. The emulator and optimistic UI updates use this, so they agree.
    pub fn apply(self, tags: &mut Vec<String>, tag: &str) -> bool {
        match self {
            Self::Add => {
                if tags.iter().any(|t| t == tag) {
                    false
                } else {
                    tags.push(tag.to_owned());
                    true
                }
            }
            Self::Remove => {
                let before = tags.len();
                tags.retain(|t| t != tag);
                tags.len() != before
            }
        }
    }
}

impl fmt::Display for TagAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TagAction {
    type Err = TagActionError;
    /// Accepts `add`/`remove` in any case (user input); the wire form is always `Add`/`Remove`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("add") {
            Ok(Self::Add)
        } else if s.eq_ignore_ascii_case("remove") {
            Ok(Self::Remove)
        } else {
            Err(TagActionError {
                found: s.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_tags_verbatim() {
        let t = Tag::parse("test Tag 2").unwrap();
        assert_eq!(t.as_str(), "test Tag 2");
        assert!(t.warnings().is_empty());
        assert!(Tag::parse(&"x".repeat(200)).is_ok());
        assert!(
            Tag::parse(&"é".repeat(200)).is_ok(),
            "limit counts characters, not bytes"
        );
    }

    #[test]
    fn each_bad_input_has_its_own_error() {
        assert_eq!(Tag::parse(""), Err(TagError::Empty));
        assert_eq!(Tag::parse("   "), Err(TagError::Blank));
        assert_eq!(
            Tag::parse(&"x".repeat(201)),
            Err(TagError::TooLong {
                chars: 201,
                max: 200
            })
        );
        assert_eq!(
            Tag::parse("a\nb"),
            Err(TagError::ControlCharacter { position: 2 })
        );
        assert_eq!(Tag::parse(" a"), Err(TagError::SurroundingWhitespace));
        assert_eq!(Tag::parse("a "), Err(TagError::SurroundingWhitespace));
    }

    #[test]
    fn messages_name_the_problem() {
        let m = |s: &str| Tag::parse(s).unwrap_err().to_string();
        assert!(m("").contains("empty"));
        assert!(m(" ").contains("whitespace"));
        assert!(m(&"x".repeat(250)).contains("250 characters"));
        assert!(m("a\tb").contains("control character at position 2"));
        assert!(m(" a").contains("starts or ends with whitespace"));
    }

    #[test]
    fn warns_about_portal_filter_characters_once_each() {
        // Any text, including tags read from the API that `Tag::parse` would refuse.
        assert_eq!(portal_filter_breakers(" a(b),c) "), vec!['(', ')', ',']);
        assert!(portal_filter_breakers("plain").is_empty());
        let t = Tag::parse("Finance (EU), Finance (US)").unwrap();
        assert_eq!(
            t.warnings(),
            vec![TagWarning::BreaksPortalFilter {
                characters: vec!['(', ')', ',']
            }]
        );
        assert!(t.warnings()[0].to_string().contains("'('"));
    }

    #[test]
    fn action_wire_names_and_inverse() {
        assert_eq!(serde_json::to_string(&TagAction::Add).unwrap(), "\"Add\"");
        assert_eq!(
            serde_json::from_str::<TagAction>("\"Remove\"").unwrap(),
            TagAction::Remove
        );
        assert!(serde_json::from_str::<TagAction>("\"add\"").is_err());
        assert_eq!(TagAction::Add.inverse(), TagAction::Remove);
        assert_eq!("REMOVE".parse::<TagAction>().unwrap(), TagAction::Remove);
        let err = "delete".parse::<TagAction>().unwrap_err().to_string();
        assert!(err.contains("\"delete\""), "{err}");
    }

    #[test]
    fn apply_is_exact_and_idempotent() {
        let mut tags = vec!["finance".to_owned()];
        assert!(TagAction::Add.apply(&mut tags, "Finance"));
        assert!(!TagAction::Add.apply(&mut tags, "Finance"));
        assert!(TagAction::Remove.apply(&mut tags, "finance"));
        assert!(!TagAction::Remove.apply(&mut tags, "finance"));
        assert_eq!(tags, vec!["Finance".to_owned()]);
    }

    #[test]
    fn case_folding_helpers() {
        assert!(eq_ignore_case("FINANCE", "finance"));
        assert!(!eq_ignore_case("finance", "financ"));
        assert!(starts_with_ignore_case("WS-Finance-01", "ws-fin"));
        assert!(!starts_with_ignore_case("ws", "ws-fin"));
    }

    /// The char-by-char folding the fast paths must agree with.
    fn reference_starts_with(h: &str, p: &str) -> bool {
        let mut h = h.chars().flat_map(char::to_lowercase);
        p.chars()
            .flat_map(char::to_lowercase)
            .all(|c| h.next() == Some(c))
    }

    fn reference_eq(a: &str, b: &str) -> bool {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }

    #[test]
    fn fast_paths_keep_unicode_folding_at_the_edges() {
        // U+212A KELVIN SIGN folds to ASCII `k`: the ASCII fast path must not miss it.
        assert!(starts_with_ignore_case("\u{212A}-srv", "k-"));
        assert!(eq_ignore_case("\u{212A}", "k"));
        // U+0130 folds to two chars (`i` + U+0307).
        assert!(starts_with_ignore_case("\u{130}x", "i"));
        assert!(!starts_with_ignore_case("\u{130}x", "ix"));
        assert!(starts_with_ignore_case("", ""));
        assert!(!starts_with_ignore_case("", "a"));
    }

    proptest::proptest! {
        #[test]
        fn fast_paths_agree_with_char_folding(
            h in "[a-zA-Z0-9.\u{212A}\u{130}\u{C9}\u{E9}\u{3A3}-]{0,8}",
            p in "[a-zA-Z0-9.\u{212A}\u{130}\u{C9}\u{E9}\u{3A3}-]{0,5}",
        ) {
            proptest::prop_assert_eq!(starts_with_ignore_case(&h, &p), reference_starts_with(&h, &p));
            proptest::prop_assert_eq!(eq_ignore_case(&h, &p), reference_eq(&h, &p));
            let prefix: String = h.chars().take(3).collect();
            proptest::prop_assert_eq!(
                starts_with_ignore_case(&h, &prefix.to_uppercase()),
                reference_starts_with(&h, &prefix.to_uppercase())
            );
        }
    }
}
