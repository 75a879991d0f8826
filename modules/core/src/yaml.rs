//! A small YAML emitter for JSON values, for the generated documentation
//! and netplan files.
//!
//! Block style throughout; a string is written plain when YAML would read it
//! back as the same string, double-quoted (JSON escapes are valid YAML)
//! otherwise, and as a literal block when it spans lines. [`to_yaml_wrapped`]
//! also folds a long one-line string into a `>-` block, so generated Python
//! doc files keep within the line length sanity's pep8 allows.

use serde_json::Value;

pub fn to_yaml(v: &Value) -> String {
    Emitter { width: None }.document(v)
}

/// [`to_yaml`], with one-line strings that would run past `width` columns
/// folded at spaces (YAML reads a folded block back as the same string).
pub fn to_yaml_wrapped(v: &Value, width: usize) -> String {
    Emitter { width: Some(width) }.document(v)
}

struct Emitter {
    width: Option<usize>,
}

impl Emitter {
    fn document(&self, v: &Value) -> String {
        let mut out = String::new();
        match v {
            Value::Object(m) if !m.is_empty() => self.map(m, 0, &mut out),
            Value::Array(a) if !a.is_empty() => self.list(a, 0, &mut out),
            other => self.scalar_line(other, 0, &mut out),
        }
        out
    }

    fn map(&self, m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        for (k, v) in m {
            out.push_str(&pad);
            out.push_str(&key(k));
            out.push(':');
            self.after_key(v, indent, out);
        }
    }

    /// Writes what follows `key:` (or `- `): an inline scalar or a nested block.
    fn after_key(&self, v: &Value, indent: usize, out: &mut String) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                self.map(m, indent + 2, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                self.list(a, indent + 2, out);
            }
            other => {
                out.push(' ');
                self.scalar_line(other, indent + 2, out);
            }
        }
    }

    fn list(&self, a: &[Value], indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        for item in a {
            out.push_str(&pad);
            out.push('-');
            match item {
                Value::Object(m) if !m.is_empty() => {
                    // First key on the dash line, the rest aligned under it.
                    let mut sub = String::new();
                    self.map(m, indent + 2, &mut sub);
                    out.push(' ');
                    out.push_str(&sub[indent + 2..]);
                }
                Value::Array(inner) if !inner.is_empty() => {
                    out.push('\n');
                    self.list(inner, indent + 2, out);
                }
                other => {
                    out.push(' ');
                    self.scalar_line(other, indent + 2, out);
                }
            }
        }
    }

    /// A scalar at the end of the current line; `indent` is where a block's
    /// lines go.
    fn scalar_line(&self, v: &Value, indent: usize, out: &mut String) {
        let column = out.len() - out.rfind('\n').map_or(0, |i| i + 1);
        let text = scalar(v, indent);
        let folded = match (self.width, v) {
            (Some(width), Value::String(s)) if column + text.len() > width && !s.contains('\n') => {
                fold(s, indent, width)
            }
            _ => None,
        };
        out.push_str(&folded.unwrap_or(text));
        out.push('\n');
    }
}

/// `s` as a folded block scalar (`>-`) with lines of at most `width`
/// columns, broken only at single spaces so that folding (each line break
/// read as one space) gives `s` back. None when `s` cannot be folded
/// faithfully (leading or trailing space, no break point).
fn fold(s: &str, indent: usize, width: usize) -> Option<String> {
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let pad = " ".repeat(indent);
    let room = width.saturating_sub(indent).max(20);
    let mut lines: Vec<&str> = Vec::new();
    let mut rest = s;
    while rest.len() > room {
        let bytes = rest.as_bytes();
        // The last single space before the limit, else the first after it.
        let single = |i: &usize| {
            bytes[*i] == b' '
                && bytes[*i - 1] != b' '
                && bytes.get(*i + 1).is_some_and(|b| *b != b' ')
        };
        let cut = (1..room.min(rest.len() - 1))
            .rev()
            .find(single)
            .or_else(|| (room..rest.len() - 1).find(single));
        let Some(cut) = cut else { break };
        lines.push(&rest[..cut]);
        rest = &rest[cut + 1..];
    }
    if lines.is_empty() {
        return None;
    }
    lines.push(rest);
    let body: Vec<String> = lines.iter().map(|l| format!("{pad}{l}")).collect();
    Some(format!(">-\n{}", body.join("\n")))
}

fn key(k: &str) -> String {
    if is_plain(k) { k.to_string() } else { quote(k) }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.contains('\n') => {
            let pad = " ".repeat(indent);
            let chomp = if s.ends_with('\n') { "" } else { "-" };
            let body: Vec<String> = s
                .trim_end_matches('\n')
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{pad}{l}")
                    }
                })
                .collect();
            format!("|{chomp}\n{}", body.join("\n"))
        }
        Value::String(s) if is_plain(s) => s.clone(),
        Value::String(s) => quote(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Would YAML 1.1 read `s`, written plain, back as the same string?
fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let reserved = [
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ];
    !reserved.contains(&s.to_ascii_lowercase().as_str())
        && (first.is_ascii_alphabetic()
            || first == '('
            || (first.is_ascii_digit() && s.parse::<f64>().is_err()))
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with([':', ' '])
        && s.chars().all(|c| !c.is_control() && c != '"' && c != '\\')
        && !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_' || c == ':' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_blocks_and_quoting() {
        let v = json!({
            "module": "x",
            "description": ["Plain words, with commas.", "yes", "a: b", "-dash"],
            "options": {"name": {"type": "str", "required": true, "default": "0.10"}},
            "list": [{"a": 1, "b": [1, 2]}, "s"],
            "empty": [],
            "text": "line one\n  line two\n"
        });
        let expected = r#"module: x
description:
  - Plain words, with commas.
  - "yes"
  - "a: b"
  - "-dash"
options:
  name:
    type: str
    required: true
    default: "0.10"
list:
  - a: 1
    b:
      - 1
      - 2
  - s
empty: []
text: |
  line one
    line two
"#;
        assert_eq!(to_yaml(&v), expected);
    }

    #[test]
    fn long_strings_fold_at_single_spaces() {
        let long = "A sentence: with a colon, \"quotes\" and  two spaces, that goes on well past the width we allow here";
        let v = json!({"description": [long, "short"], "k": {"d": long}});
        let text = to_yaml_wrapped(&v, 40);
        assert!(text.lines().all(|l| l.len() <= 40), "{text}");
        assert!(
            text.starts_with("description:\n  - >-\n    A sentence:"),
            "{text}"
        );
        // Never broken inside the double space: folding would lose one.
        assert!(text.contains("and  two"), "{text}");
        assert!(text.contains("  - short\n"), "{text}");
        // Read back by a real YAML parser: the same strings.
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, v);
        // Without a width nothing folds.
        assert!(!to_yaml(&v).contains(">-"));
    }
}
