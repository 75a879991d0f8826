//! A small YAML emitter for JSON values, for the generated documentation.
//!
//! Block style throughout; a string is written plain when YAML would read it
//! back as the same string, double-quoted (JSON escapes are valid YAML)
//! otherwise, and as a literal block when it spans lines.

use serde_json::Value;

pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => emit_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => emit_list(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn emit_map(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in m {
        out.push_str(&pad);
        out.push_str(&key(k));
        out.push(':');
        emit_after_key(v, indent, out);
    }
}

/// Writes what follows `key:` (or `- `): an inline scalar or a nested block.
fn emit_after_key(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(m, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_list(a, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn emit_list(a: &[Value], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in a {
        out.push_str(&pad);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // First key on the dash line, the rest aligned under it.
                let mut sub = String::new();
                emit_map(m, indent + 2, &mut sub);
                out.push(' ');
                out.push_str(&sub[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_list(inner, indent + 2, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other, indent + 2));
                out.push('\n');
            }
        }
    }
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
}
