//! SCIM filters (RFC 7644 §3.4.2.2): parser, evaluator over User resources, and recognition
//! of the key-lookup shapes a store answers without scanning.
//!
//! Grammar (ABNF from the RFC, keywords and attribute names case-insensitive):
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")" / "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! compValue = false / null / true / number / string
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! ```
//!
//! Precedence: `not` > `and` > `or`; `and`/`or` associate to the left.
//!
//! Evaluation rules: string comparisons fold case unless the attribute is `caseExact`
//! (`id`, `externalId`, `schemas`, ...); a multi-valued attribute matches when any value
//! matches; `ne` is the negation of `eq` (so `emails.value ne "a@x"` keeps users without that
//! address, including users without emails); `eq null` means "not present"; `gt`/`ge`/`lt`/`le`
//! order strings (folded per `caseExact`) and `dateTime`s chronologically; a complex attribute
//! compared without a sub-attribute compares its `value` sub-attribute. A filter naming an
//! unknown attribute, or comparing a value of the wrong type, is an error, never an empty result.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use rollcall_domain::model::MemberStatus;
use rollcall_domain::service::ScimKey;

use crate::error::ScimError;
use crate::schema::{self, AttrDef, AttrType, ENTERPRISE_USER_SCHEMA, SchemaId, get_ci};

/// Longest accepted filter, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest accepted nesting of parentheses, `not` and value paths.
pub const MAX_DEPTH: usize = 16;
/// Most AST nodes a filter may have.
pub const MAX_NODES: usize = 256;

/// Why a filter was refused; maps to 400 `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The filter is empty or blank.
    #[error("filter is empty")]
    Empty,
    /// The filter exceeds [`MAX_FILTER_LEN`].
    #[error("filter is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The filter nests deeper than [`MAX_DEPTH`].
    #[error("filter nests deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The filter has more than [`MAX_NODES`] nodes.
    #[error("filter has more than {max} terms")]
    TooComplex {
        /// The limit.
        max: usize,
    },
    /// The filter does not follow the grammar.
    #[error("invalid filter at byte {at}: {message}")]
    Syntax {
        /// Byte offset of the offending token.
        at: usize,
        /// What was wrong.
        message: String,
    },
    /// The filter names an attribute the User resource does not have.
    #[error("unknown attribute '{0}' in filter")]
    UnknownAttribute(String),
    /// The comparison cannot be evaluated (operator or value type not valid for the attribute).
    #[error("{0}")]
    Unsupported(String),
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::invalid_filter(e.to_string())
    }
}

/// An attribute path: `[urn:]name[.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// Schema URN prefix, if written (after parsing: `Some` only for extension attributes).
    pub urn: Option<String>,
    /// Attribute name.
    pub name: String,
    /// Sub-attribute name.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path without URN.
    pub fn new(name: &str, sub: Option<&str>) -> Self {
        AttrPath {
            urn: None,
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `co` (contains).
    Co,
    /// `sw` (starts with).
    Sw,
    /// `ew` (ends with).
    Ew,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
}

impl CompareOp {
    /// The operator keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn parse(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(word))
    }

    fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

/// A comparison value.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string (escapes decoded).
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write!(f, "{}", Value::String(s.clone())),
        }
    }
}

/// A filter AST.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr pr`.
    Present(AttrPath),
    /// `attr op value`.
    Compare {
        /// Attribute.
        path: AttrPath,
        /// Operator.
        op: CompareOp,
        /// Value.
        value: CompValue,
    },
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `attr[filter]`: some value of the complex attribute matches `filter`, whose paths name
    /// sub-attributes.
    ValuePath {
        /// The complex attribute.
        path: AttrPath,
        /// The filter on its sub-attributes.
        filter: Box<Filter>,
    },
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn wrapped(f: &mut fmt::Formatter<'_>, x: &Filter, paren: bool) -> fmt::Result {
            if paren {
                write!(f, "({x})")
            } else {
                write!(f, "{x}")
            }
        }
        match self {
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Not(x) => write!(f, "not ({x})"),
            Filter::And(l, r) => {
                wrapped(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                wrapped(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                wrapped(f, l, false)?;
                f.write_str(" or ")?;
                wrapped(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

impl Filter {
    /// Parses a filter and checks it against the User schema; paths come back canonical
    /// (canonical attribute casing, URN only on extension attributes).
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let f = parse_syntax(input)?;
        check(f, Scope::Resource)
    }

    /// Whether `resource` (a User resource JSON) matches. Errors for filters that cannot be
    /// evaluated (unknown attribute, wrong value type).
    pub fn matches(&self, resource: &Value) -> Result<bool, FilterError> {
        eval(self, Ctx::Resource(resource))
    }

    /// `left and right`.
    pub fn and(left: Filter, right: Filter) -> Filter {
        Filter::And(Box::new(left), Box::new(right))
    }

    /// `left or right`.
    pub fn or(left: Filter, right: Filter) -> Filter {
        Filter::Or(Box::new(left), Box::new(right))
    }

    /// `not (inner)`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(inner: Filter) -> Filter {
        Filter::Not(Box::new(inner))
    }
}

/// Parses a filter (syntax only, no schema check) — see [`Filter::parse`].
pub fn parse_syntax(input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input)?;
    let f = p.parse_or(0, false)?;
    p.expect_end()?;
    Ok(f)
}

/// A PATCH `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath [subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with sub-attribute when written as `a.b`).
    pub attr: AttrPath,
    /// The value selection filter in brackets, paths relative to the attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after the brackets (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

/// Parses a PATCH path (syntax only).
pub fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(input)?;
    let (word, at) = match p.next() {
        Some(Token {
            tok: Tok::Word(w),
            at,
        }) => (w, at),
        Some(t) => return Err(syntax(t.at, "expected an attribute path")),
        None => return Err(FilterError::Empty),
    };
    let attr = parse_attr_path(&word, false).map_err(|m| syntax(at, m))?;
    let mut filter = None;
    let mut sub = None;
    if p.peek_is(&Tok::LBracket) {
        if attr.sub.is_some() {
            return Err(syntax(
                at,
                "a value filter applies to an attribute, not a sub-attribute",
            ));
        }
        p.pos += 1;
        p.bump_nodes()?;
        let inner = p.parse_or(1, true)?;
        p.expect(&Tok::RBracket, "expected ']'")?;
        filter = Some(inner);
        if let Some(Token {
            tok: Tok::Word(w),
            at,
        }) = p.peek().cloned()
        {
            let name = w
                .strip_prefix('.')
                .ok_or_else(|| syntax(at, "expected '.subAttribute' after ']'"))?;
            if !is_attr_name(name) {
                return Err(syntax(at, "invalid sub-attribute name"));
            }
            sub = Some(name.to_owned());
            p.pos += 1;
        }
    }
    p.expect_end()?;
    Ok(PatchPath { attr, filter, sub })
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Str(String),
    Word(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    at: usize,
}

fn syntax(at: usize, message: impl Into<String>) -> FilterError {
    FilterError::Syntax {
        at,
        message: message.into(),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '$' | '-' | '+')
}

fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut toks = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                let tok = match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                };
                toks.push(Token { tok, at });
            }
            '"' => {
                chars.next();
                let s = lex_string(&mut chars, at)?;
                toks.push(Token {
                    tok: Tok::Str(s),
                    at,
                });
            }
            c if is_word_char(c) => {
                let mut w = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                toks.push(Token {
                    tok: Tok::Word(w),
                    at,
                });
            }
            other => return Err(syntax(at, format!("unexpected character {other:?}"))),
        }
    }
    Ok(toks)
}

fn lex_string(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    start: usize,
) -> Result<String, FilterError> {
    let mut s = String::new();
    loop {
        let Some((at, c)) = chars.next() else {
            return Err(syntax(start, "unterminated string"));
        };
        match c {
            '"' => return Ok(s),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err(syntax(at, "unterminated escape"));
                };
                match e {
                    '"' => s.push('"'),
                    '\\' => s.push('\\'),
                    '/' => s.push('/'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'u' => {
                        let hi = lex_hex4(chars, at)?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            let (Some((_, '\\')), Some((_, 'u'))) = (chars.next(), chars.next())
                            else {
                                return Err(syntax(at, "unpaired surrogate in \\u escape"));
                            };
                            let lo = lex_hex4(chars, at)?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return Err(syntax(at, "unpaired surrogate in \\u escape"));
                            }
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        let ch =
                            char::from_u32(code).ok_or_else(|| syntax(at, "invalid \\u escape"))?;
                        s.push(ch);
                    }
                    other => return Err(syntax(at, format!("invalid escape '\\{other}'"))),
                }
            }
            c if (c as u32) < 0x20 => {
                return Err(syntax(at, "control character in string"));
            }
            c => s.push(c),
        }
    }
}

fn lex_hex4(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    at: usize,
) -> Result<u32, FilterError> {
    let mut v = 0u32;
    for _ in 0..4 {
        let d = chars
            .next()
            .and_then(|(_, c)| c.to_digit(16))
            .ok_or_else(|| syntax(at, "invalid \\u escape"))?;
        v = v * 16 + d;
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    nodes: usize,
    end: usize,
}

pub(crate) fn is_attr_name(s: &str) -> bool {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        _ => return false,
    }
    cs.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Parses `[urn:]name[.sub]`; `relative` paths (inside brackets) allow neither URN nor sub.
pub(crate) fn parse_attr_path(word: &str, relative: bool) -> Result<AttrPath, String> {
    let has_urn = word
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest) = if has_urn {
        if relative {
            return Err("a URN is not allowed inside a value filter".into());
        }
        let idx = word.rfind(':').unwrap_or(0);
        let urn = &word[..idx];
        if urn.len() <= 4 || urn.split(':').any(str::is_empty) {
            return Err(format!("invalid schema URN in '{word}'"));
        }
        (Some(urn.to_owned()), &word[idx + 1..])
    } else {
        (None, word)
    };
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(format!("too many '.' in attribute path '{word}'"));
    }
    if !is_attr_name(name) {
        return Err(format!("invalid attribute name in '{word}'"));
    }
    if let Some(s) = sub {
        if relative {
            return Err("sub-attribute paths are not allowed inside a value filter".into());
        }
        if !is_attr_name(s) {
            return Err(format!("invalid sub-attribute name in '{word}'"));
        }
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

impl Parser {
    fn new(input: &str) -> Result<Parser, FilterError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(FilterError::TooLong {
                max: MAX_FILTER_LEN,
            });
        }
        let toks = lex(input)?;
        if toks.is_empty() {
            return Err(FilterError::Empty);
        }
        Ok(Parser {
            toks,
            pos: 0,
            nodes: 0,
            end: input.len(),
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn peek_is(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| &t.tok == tok)
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.at)
    }

    fn expect(&mut self, tok: &Tok, message: &str) -> Result<(), FilterError> {
        if self.peek_is(tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(syntax(self.here(), message))
        }
    }

    fn expect_end(&self) -> Result<(), FilterError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(syntax(t.at, "unexpected trailing input")),
        }
    }

    fn bump_nodes(&mut self) -> Result<(), FilterError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            Err(FilterError::TooComplex { max: MAX_NODES })
        } else {
            Ok(())
        }
    }

    fn parse_or(&mut self, depth: usize, relative: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(depth, relative)?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.parse_and(depth, relative)?;
            self.bump_nodes()?;
            left = Filter::or(left, right);
        }
        Ok(left)
    }

    fn parse_and(&mut self, depth: usize, relative: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(depth, relative)?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.parse_unary(depth, relative)?;
            self.bump_nodes()?;
            left = Filter::and(left, right);
        }
        Ok(left)
    }

    fn nest(depth: usize) -> Result<usize, FilterError> {
        let d = depth + 1;
        if d > MAX_DEPTH {
            Err(FilterError::TooDeep { max: MAX_DEPTH })
        } else {
            Ok(d)
        }
    }

    fn parse_unary(&mut self, depth: usize, relative: bool) -> Result<Filter, FilterError> {
        let next_is_paren = matches!(
            self.toks.get(self.pos + 1),
            Some(Token {
                tok: Tok::LParen,
                ..
            })
        );
        if self.peek_keyword("not") && next_is_paren {
            self.pos += 2;
            let d = Self::nest(depth)?;
            let inner = self.parse_or(d, relative)?;
            self.expect(&Tok::RParen, "expected ')'")?;
            self.bump_nodes()?;
            return Ok(Filter::not(inner));
        }
        match self.peek().cloned() {
            Some(Token {
                tok: Tok::LParen, ..
            }) => {
                self.pos += 1;
                let d = Self::nest(depth)?;
                let inner = self.parse_or(d, relative)?;
                self.expect(&Tok::RParen, "expected ')'")?;
                Ok(inner)
            }
            Some(Token {
                tok: Tok::Word(w),
                at,
            }) => {
                self.pos += 1;
                self.parse_attr_exp(&w, at, depth, relative)
            }
            Some(t) => Err(syntax(t.at, "expected an attribute path, '(' or 'not'")),
            None => Err(syntax(self.end, "unexpected end of filter")),
        }
    }

    fn parse_attr_exp(
        &mut self,
        word: &str,
        at: usize,
        depth: usize,
        relative: bool,
    ) -> Result<Filter, FilterError> {
        let path = parse_attr_path(word, relative).map_err(|m| syntax(at, m))?;
        self.bump_nodes()?;
        if self.peek_is(&Tok::LBracket) {
            if relative {
                return Err(syntax(self.here(), "value paths cannot be nested"));
            }
            if path.sub.is_some() {
                return Err(syntax(
                    at,
                    "a value filter applies to an attribute, not a sub-attribute",
                ));
            }
            self.pos += 1;
            let d = Self::nest(depth)?;
            let inner = self.parse_or(d, true)?;
            self.expect(&Tok::RBracket, "expected ']'")?;
            // Not RFC 7644, but what Entra sends when email is the matching attribute:
            // `emails[type eq "work"].value eq "x"` means `emails[type eq "work" and value eq "x"]`.
            let inner = match self.peek().cloned() {
                Some(Token {
                    tok: Tok::Word(w),
                    at,
                }) if w.starts_with('.') => {
                    self.pos += 1;
                    let sub = parse_attr_path(&w[1..], true).map_err(|m| syntax(at, m))?;
                    self.bump_nodes()?;
                    Filter::and(inner, self.parse_comparison(sub)?)
                }
                _ => inner,
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(inner),
            });
        }
        self.parse_comparison(path)
    }

    /// The operator and value after an attribute path: `pr`, or `op value`.
    fn parse_comparison(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let (op_word, op_at) = match self.next() {
            Some(Token {
                tok: Tok::Word(w),
                at,
            }) => (w, at),
            Some(t) => return Err(syntax(t.at, "expected an operator")),
            None => return Err(syntax(self.end, "expected an operator")),
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&op_word)
            .ok_or_else(|| syntax(op_at, format!("unknown operator '{op_word}'")))?;
        let value = match self.next() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => CompValue::String(s),
            Some(Token {
                tok: Tok::Word(w),
                at,
            }) => parse_literal(&w).ok_or_else(|| syntax(at, "invalid comparison value"))?,
            Some(t) => return Err(syntax(t.at, "expected a comparison value")),
            None => return Err(syntax(self.end, "expected a comparison value")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

fn parse_literal(w: &str) -> Option<CompValue> {
    if w.eq_ignore_ascii_case("true") {
        return Some(CompValue::Bool(true));
    }
    if w.eq_ignore_ascii_case("false") {
        return Some(CompValue::Bool(false));
    }
    if w.eq_ignore_ascii_case("null") {
        return Some(CompValue::Null);
    }
    let first = w.chars().next()?;
    if !(first.is_ascii_digit() || first == '-') {
        return None;
    }
    match serde_json::from_str::<Value>(w) {
        Ok(Value::Number(n)) => Some(CompValue::Number(n)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Schema check

#[derive(Clone, Copy)]
enum Scope {
    Resource,
    Complex(&'static AttrDef),
}

/// Canonicalizes paths and checks types; errors for what cannot be evaluated.
fn check(f: Filter, scope: Scope) -> Result<Filter, FilterError> {
    Ok(match f {
        Filter::And(l, r) => Filter::and(check(*l, scope)?, check(*r, scope)?),
        Filter::Or(l, r) => Filter::or(check(*l, scope)?, check(*r, scope)?),
        Filter::Not(x) => Filter::not(check(*x, scope)?),
        Filter::Present(path) => Filter::Present(resolve_path(&path, scope)?.0),
        Filter::Compare { path, op, value } => {
            let (path, def) = resolve_path(&path, scope)?;
            let leaf = comparable_leaf(def, &path)?;
            check_compare(leaf, &path, op, &value)?;
            Filter::Compare { path, op, value }
        }
        Filter::ValuePath { path, filter } => {
            let Scope::Resource = scope else {
                return Err(FilterError::Unsupported(
                    "value paths cannot be nested".into(),
                ));
            };
            let (path, def) = resolve_path(&path, scope)?;
            if !def.is_complex() || path.sub.is_some() {
                return Err(FilterError::Unsupported(format!(
                    "'{path}' is not a complex attribute; '[...]' needs one"
                )));
            }
            Filter::ValuePath {
                path,
                filter: Box::new(check(*filter, Scope::Complex(def))?),
            }
        }
    })
}

/// Checks a value filter written inside `attr[...]` (PATCH paths); returns it canonical.
pub(crate) fn check_value_filter(attr: &'static AttrDef, f: Filter) -> Result<Filter, FilterError> {
    check(f, Scope::Complex(attr))
}

/// Resolves a path in a scope; returns the canonical path and the designated attribute.
fn resolve_path(
    path: &AttrPath,
    scope: Scope,
) -> Result<(AttrPath, &'static AttrDef), FilterError> {
    match scope {
        Scope::Resource => {
            let r = schema::resolve(path.urn.as_deref(), &path.name, path.sub.as_deref())
                .ok_or_else(|| FilterError::UnknownAttribute(path.to_string()))?;
            let canonical = AttrPath {
                urn: (r.schema == SchemaId::Enterprise).then(|| ENTERPRISE_USER_SCHEMA.to_owned()),
                name: r.attr.name.to_owned(),
                sub: r.sub.map(|s| s.name.to_owned()),
            };
            Ok((canonical, r.leaf()))
        }
        Scope::Complex(parent) => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(FilterError::UnknownAttribute(path.to_string()));
            }
            let sub = parent.sub(&path.name).ok_or_else(|| {
                FilterError::UnknownAttribute(format!("{}.{}", parent.name, path.name))
            })?;
            Ok((AttrPath::new(sub.name, None), sub))
        }
    }
}

/// For comparisons, a complex attribute stands for its `value` sub-attribute.
fn comparable_leaf(
    def: &'static AttrDef,
    path: &AttrPath,
) -> Result<&'static AttrDef, FilterError> {
    if def.is_complex() {
        def.sub("value").ok_or_else(|| {
            FilterError::Unsupported(format!(
                "cannot compare complex attribute '{path}'; name a sub-attribute"
            ))
        })
    } else {
        Ok(def)
    }
}

fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

fn bool_value(v: &CompValue) -> Option<bool> {
    match v {
        CompValue::Bool(b) => Some(*b),
        CompValue::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        CompValue::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn check_compare(
    def: &AttrDef,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), FilterError> {
    let unsupported = |what: &str| {
        Err(FilterError::Unsupported(format!(
            "'{path} {} {value}': {what}",
            op.as_str()
        )))
    };
    if let CompValue::Null = value {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => unsupported("null can only be compared with eq or ne"),
        };
    }
    match def.ty {
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return unsupported("boolean attributes support only eq and ne");
            }
            if bool_value(value).is_none() {
                return unsupported("a boolean attribute needs true or false");
            }
            Ok(())
        }
        AttrType::Binary => unsupported("binary attributes cannot be filtered"),
        AttrType::Decimal | AttrType::Integer => match value {
            CompValue::Number(_) if !op.is_substring() => Ok(()),
            CompValue::Number(_) => unsupported("co, sw and ew need a string attribute"),
            _ => unsupported("a numeric attribute needs a number"),
        },
        AttrType::DateTime => match value {
            CompValue::String(s) if op.is_substring() || parse_datetime(s).is_some() => Ok(()),
            CompValue::String(_) => unsupported("not a valid dateTime (RFC 3339)"),
            _ => unsupported("a dateTime attribute needs a string value"),
        },
        AttrType::String | AttrType::Reference => match value {
            CompValue::String(_) => Ok(()),
            _ => unsupported("a string attribute needs a string value"),
        },
        AttrType::Complex => unsupported("cannot compare a complex attribute"),
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

#[derive(Clone, Copy)]
enum Ctx<'a> {
    Resource(&'a Value),
    Element(&'static AttrDef, &'a Value),
}

impl Ctx<'_> {
    fn scope(&self) -> Scope {
        match self {
            Ctx::Resource(_) => Scope::Resource,
            Ctx::Element(def, _) => Scope::Complex(def),
        }
    }
}

/// Whether one element of a multi-valued complex attribute matches a value filter whose paths
/// name sub-attributes of `attr`.
pub(crate) fn matches_element(
    attr: &'static AttrDef,
    f: &Filter,
    element: &Value,
) -> Result<bool, FilterError> {
    eval(f, Ctx::Element(attr, element))
}

fn eval(f: &Filter, ctx: Ctx<'_>) -> Result<bool, FilterError> {
    match f {
        Filter::And(l, r) => Ok(eval(l, ctx)? && eval(r, ctx)?),
        Filter::Or(l, r) => Ok(eval(l, ctx)? || eval(r, ctx)?),
        Filter::Not(x) => Ok(!eval(x, ctx)?),
        Filter::Present(path) => {
            resolve_path(path, ctx.scope())?;
            Ok(values_at(path, ctx, false).into_iter().any(is_present))
        }
        Filter::Compare { path, op, value } => {
            let (canonical, def) = resolve_path(path, ctx.scope())?;
            let leaf = comparable_leaf(def, &canonical)?;
            check_compare(leaf, &canonical, *op, value)?;
            let values = values_at(path, ctx, def.is_complex());
            if let CompValue::Null = value {
                let present = values.into_iter().any(is_present);
                return Ok(if *op == CompareOp::Eq {
                    !present
                } else {
                    present
                });
            }
            let any = |op: CompareOp| values.iter().any(|v| compare(leaf, v, op, value));
            Ok(match op {
                CompareOp::Ne => !any(CompareOp::Eq),
                other => any(*other),
            })
        }
        Filter::ValuePath { path, filter } => {
            let Ctx::Resource(resource) = ctx else {
                return Err(FilterError::Unsupported(
                    "value paths cannot be nested".into(),
                ));
            };
            let r = schema::resolve(path.urn.as_deref(), &path.name, path.sub.as_deref())
                .ok_or_else(|| FilterError::UnknownAttribute(path.to_string()))?;
            let def = r.attr;
            if !def.is_complex() || r.sub.is_some() {
                return Err(FilterError::Unsupported(format!(
                    "'{path}' is not a complex attribute; '[...]' needs one"
                )));
            }
            let elements: Vec<&Value> =
                match schema::attribute_value(resource, r.schema, r.attr.name) {
                    Some(Value::Array(a)) => a.iter().collect(),
                    Some(v @ Value::Object(_)) => vec![v],
                    _ => Vec::new(),
                };
            for e in elements {
                if eval(filter, Ctx::Element(def, e))? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// The leaf values a path designates, arrays flattened. `via_value`: the path names a complex
/// attribute compared through its `value` sub-attribute.
fn values_at<'a>(path: &AttrPath, ctx: Ctx<'a>, via_value: bool) -> Vec<&'a Value> {
    let top: Option<&'a Value> = match ctx {
        Ctx::Resource(resource) => schema::resolve(path.urn.as_deref(), &path.name, None)
            .and_then(|r| schema::attribute_value(resource, r.schema, r.attr.name)),
        Ctx::Element(_, element) => element.as_object().and_then(|o| get_ci(o, &path.name)),
    };
    let sub = match (&path.sub, via_value) {
        (Some(s), _) => Some(s.as_str()),
        (None, true) => Some("value"),
        (None, false) => None,
    };
    let mut out = Vec::new();
    let Some(top) = top else { return out };
    let push_flat = |v: &'a Value, out: &mut Vec<&'a Value>| match v {
        Value::Array(a) => out.extend(a.iter()),
        other => out.push(other),
    };
    match sub {
        None => push_flat(top, &mut out),
        Some(sub) => {
            let elements: Vec<&'a Value> = match top {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for e in elements {
                if let Some(v) = e.as_object().and_then(|o| get_ci(o, sub)) {
                    push_flat(v, &mut out);
                }
            }
        }
    }
    out
}

/// RFC 7644: present when the attribute has a non-empty value or a non-empty complex node.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(o) => o.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(def: &AttrDef, actual: &Value, op: CompareOp, expected: &CompValue) -> bool {
    match def.ty {
        AttrType::Boolean => {
            let a = match actual {
                Value::Bool(b) => Some(*b),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            };
            matches!((a, bool_value(expected)), (Some(a), Some(e)) if op == CompareOp::Eq && a == e)
        }
        AttrType::Decimal | AttrType::Integer => {
            let (Some(a), CompValue::Number(e)) = (actual.as_f64(), expected) else {
                return false;
            };
            let Some(e) = e.as_f64() else { return false };
            ordering_matches(a.partial_cmp(&e), op)
        }
        AttrType::DateTime if !op.is_substring() => {
            let (Some(a), CompValue::String(e)) = (actual.as_str(), expected) else {
                return false;
            };
            match (parse_datetime(a), parse_datetime(e)) {
                (Some(a), Some(e)) => ordering_matches(Some(a.cmp(&e)), op),
                _ => false,
            }
        }
        _ => {
            let (Some(a), CompValue::String(e)) = (actual.as_str(), expected) else {
                return false;
            };
            if def.case_exact {
                string_matches(a, e, op)
            } else {
                string_matches(&a.to_lowercase(), &e.to_lowercase(), op)
            }
        }
    }
}

fn string_matches(a: &str, e: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(e),
        CompareOp::Sw => a.starts_with(e),
        CompareOp::Ew => a.ends_with(e),
        _ => ordering_matches(Some(a.cmp(e)), op),
    }
}

fn ordering_matches(ord: Option<std::cmp::Ordering>, op: CompareOp) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let Some(ord) = ord else { return false };
    match op {
        CompareOp::Eq => ord == Equal,
        CompareOp::Ne => ord != Equal,
        CompareOp::Gt => ord == Greater,
        CompareOp::Ge => ord != Less,
        CompareOp::Lt => ord == Less,
        CompareOp::Le => ord != Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Equality terms (used by PATCH to create the element a value path designates)

/// When `f` is `a eq v [and b eq w ...]` over sub-attributes, the `(name, value)` pairs.
pub(crate) fn equality_terms(f: &Filter) -> Option<Vec<(String, CompValue)>> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() && !matches!(value, CompValue::Null) => {
            Some(vec![(path.name.clone(), value.clone())])
        }
        Filter::And(l, r) => {
            let mut v = equality_terms(l)?;
            v.extend(equality_terms(r)?);
            Some(v)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Key lookups

/// An indexed key the store can answer directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupKey {
    /// `userName eq "x"`: compare case-insensitively.
    UserName(String),
    /// `externalId eq "x"`: compare exactly (caseExact).
    ExternalId(String),
    /// `emails.value eq "x"` / `emails[value eq "x"]`: compare case-insensitively.
    Email(String),
}

impl LookupKey {
    /// Whether the key compares case-sensitively.
    pub fn case_exact(&self) -> bool {
        matches!(self, LookupKey::ExternalId(_))
    }

    /// The key the domain's `Service::scim_find` looks members up by.
    pub fn domain_key(&self) -> ScimKey {
        match self {
            LookupKey::UserName(v) => ScimKey::UserName(v.clone()),
            LookupKey::ExternalId(v) => ScimKey::ExternalId(v.clone()),
            LookupKey::Email(v) => ScimKey::Email(v.clone()),
        }
    }
}

/// `active eq true|false` as a top-level conjunct: a status the store can filter a scan on.
pub fn status_hint(filter: &Filter) -> Option<MemberStatus> {
    match filter {
        Filter::And(l, r) => status_hint(l).or_else(|| status_hint(r)),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Bool(b),
        } if path.urn.is_none() && path.sub.is_none() && path.name == "active" => Some(if *b {
            MemberStatus::Active
        } else {
            MemberStatus::Suspended
        }),
        _ => None,
    }
}

/// A filter answered by a key lookup, plus what remains to evaluate on the candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyLookup {
    /// The key to look up.
    pub key: LookupKey,
    /// Remaining conjuncts to evaluate on the looked-up resources (`None`: nothing left).
    /// Evaluating the whole original filter on the candidates is equally correct.
    pub residual: Option<Filter>,
}

/// Recognizes `userName eq`, `externalId eq`, `emails.value eq` / `emails[value eq ...]`, alone
/// or as one conjunct of a top-level `and` (preferring userName, then externalId, then email).
/// Returns `None` for anything that needs a scan (e.g. an `or` at the top).
pub fn key_lookup(f: &Filter) -> Option<KeyLookup> {
    let mut conjuncts = Vec::new();
    flatten_and(f, &mut conjuncts);
    for rank in 0..3 {
        for (i, c) in conjuncts.iter().enumerate() {
            let Some((key, keep)) = as_key(c) else {
                continue;
            };
            let key_rank = match key {
                LookupKey::UserName(_) => 0,
                LookupKey::ExternalId(_) => 1,
                LookupKey::Email(_) => 2,
            };
            if key_rank != rank {
                continue;
            }
            let residual = conjuncts
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i || keep)
                .map(|(_, c)| (*c).clone())
                .reduce(Filter::and);
            return Some(KeyLookup { key, residual });
        }
    }
    None
}

fn flatten_and<'a>(f: &'a Filter, out: &mut Vec<&'a Filter>) {
    if let Filter::And(l, r) = f {
        flatten_and(l, out);
        flatten_and(r, out);
    } else {
        out.push(f);
    }
}

/// The key a conjunct designates, and whether the conjunct must still be evaluated.
fn as_key(f: &Filter) -> Option<(LookupKey, bool)> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(s),
        } => {
            let r = schema::resolve(path.urn.as_deref(), &path.name, path.sub.as_deref())?;
            if r.schema != SchemaId::Core {
                return None;
            }
            match (r.attr.name, r.sub.map(|s| s.name)) {
                ("userName", None) => Some((LookupKey::UserName(s.clone()), false)),
                ("externalId", None) => Some((LookupKey::ExternalId(s.clone()), false)),
                ("emails", None | Some("value")) => Some((LookupKey::Email(s.clone()), false)),
                _ => None,
            }
        }
        Filter::ValuePath { path, filter } => {
            let r = schema::resolve(path.urn.as_deref(), &path.name, path.sub.as_deref())?;
            if r.schema != SchemaId::Core || r.attr.name != "emails" || r.sub.is_some() {
                return None;
            }
            let mut inner = Vec::new();
            flatten_and(filter, &mut inner);
            let email = inner.iter().find_map(|c| match c {
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value: CompValue::String(s),
                } if path.urn.is_none()
                    && path.sub.is_none()
                    && path.name.eq_ignore_ascii_case("value") =>
                {
                    Some(s.clone())
                }
                _ => None,
            })?;
            Some((LookupKey::Email(email), inner.len() > 1))
        }
        _ => None,
    }
}
