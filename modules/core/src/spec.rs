//! The argument spec: a module's options as Ansible sees them, derived from
//! the schemars JSON Schema of its `Params` type.
//!
//! One walk over the schema gives a tree of [`OptionSpec`]s. The argument
//! checker ([`crate::args`]) and the documentation generator ([`crate::doc`])
//! both read this tree, so what the docs promise is what the parser does.

use serde_json::{Map, Value};

/// The Ansible type of an option (or of a list's elements).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Str,
    Int,
    Float,
    Bool,
    /// A list; the spec of its elements.
    List(Box<TypeSpec>),
    /// A dict with known suboptions.
    Dict(Vec<OptionSpec>),
    /// A free-form dict (any keys).
    Map,
    /// Anything (a raw JSON value).
    Raw,
}

impl Kind {
    /// The name Ansible's docs use for this type.
    pub fn ansible_name(&self) -> &'static str {
        match self {
            Kind::Str => "str",
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::Bool => "bool",
            Kind::List(_) => "list",
            Kind::Dict(_) | Kind::Map => "dict",
            Kind::Raw => "raw",
        }
    }
}

/// A type with the constraints that travel with it.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSpec {
    pub kind: Kind,
    /// Allowed values (strings), each with its own description if it has one.
    pub choices: Vec<Choice>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub value: String,
    pub description: Option<String>,
}

/// One option (or suboption, or returned value).
#[derive(Debug, Clone, PartialEq)]
pub struct OptionSpec {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<Value>,
    pub ty: TypeSpec,
    /// Schema extension keys (`x-...` via `#[schemars(extend(...))]`),
    /// without the `x-` prefix: e.g. `returned`, `sample`.
    pub extra: Map<String, Value>,
}

/// The options of the root object, plus its own description.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub description: Option<String>,
    pub options: Vec<OptionSpec>,
}

impl Spec {
    /// Build the spec from a schemars root schema.
    pub fn from_schema(schema: &schemars::Schema) -> Spec {
        let root = schema.as_value();
        let walker = Walker {
            defs: root.get("$defs").and_then(Value::as_object),
        };
        let root_obj = walker.resolve(root);
        Spec {
            description: str_field(root_obj, "description"),
            options: walker.object_options(root_obj),
        }
    }

    /// The spec of the module's options.
    pub fn of<T: schemars::JsonSchema>() -> Spec {
        Spec::from_schema(&schemars::schema_for!(T))
    }
}

struct Walker<'a> {
    defs: Option<&'a Map<String, Value>>,
}

impl<'a> Walker<'a> {
    /// Follow `$ref`s and unwrap `Option<T>` (`anyOf: [T, null]`).
    fn resolve(&self, mut v: &'a Value) -> &'a Value {
        loop {
            if let Some(r) = v.get("$ref").and_then(Value::as_str) {
                let name = r.trim_start_matches("#/$defs/");
                match self.defs.and_then(|d| d.get(name)) {
                    Some(target) => v = target,
                    None => return v,
                }
            } else if let Some(any) = v.get("anyOf").and_then(Value::as_array) {
                let non_null: Vec<&Value> = any.iter().filter(|s| !is_null_schema(s)).collect();
                if non_null.len() == 1 {
                    v = non_null[0];
                } else {
                    return v;
                }
            } else {
                return v;
            }
        }
    }

    fn object_options(&self, obj: &'a Value) -> Vec<OptionSpec> {
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = obj.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        props
            .iter()
            .map(|(name, prop)| {
                let resolved = self.resolve(prop);
                // Docs live on the property, or on the referenced type.
                let description =
                    str_field(prop, "description").or_else(|| str_field(resolved, "description"));
                let mut extra = Map::new();
                for src in [resolved, prop] {
                    if let Some(o) = src.as_object() {
                        for (k, v) in o {
                            if let Some(stripped) = k.strip_prefix("x-") {
                                extra.insert(stripped.to_string(), v.clone());
                            }
                        }
                    }
                }
                OptionSpec {
                    name: name.clone(),
                    description,
                    required: required.contains(&name.as_str()),
                    default: prop.get("default").cloned().filter(|d| !d.is_null()),
                    ty: self.type_spec(prop),
                    extra,
                }
            })
            .collect()
    }

    fn type_spec(&self, v: &'a Value) -> TypeSpec {
        let v = self.resolve(v);
        let mut spec = TypeSpec {
            kind: Kind::Raw,
            choices: Vec::new(),
            minimum: v.get("minimum").and_then(Value::as_f64),
            maximum: v.get("maximum").and_then(Value::as_f64),
        };
        // Unit enums: `enum: [...]`, or `oneOf` of `const`s when variants
        // carry doc comments.
        if let Some(values) = v.get("enum").and_then(Value::as_array) {
            spec.kind = Kind::Str;
            spec.choices = values
                .iter()
                .filter_map(Value::as_str)
                .map(|s| Choice {
                    value: s.to_string(),
                    description: None,
                })
                .collect();
            return spec;
        }
        if let Some(one_of) = v.get("oneOf").and_then(Value::as_array) {
            // Documented variants come as `const`s; schemars groups the
            // undocumented ones into one `enum`.
            let mut choices = Vec::new();
            for alt in one_of {
                let description = str_field(alt, "description");
                if let Some(c) = alt.get("const").and_then(Value::as_str) {
                    choices.push(Choice {
                        value: c.to_string(),
                        description,
                    });
                } else if let Some(values) = alt.get("enum").and_then(Value::as_array) {
                    for e in values.iter().filter_map(Value::as_str) {
                        choices.push(Choice {
                            value: e.to_string(),
                            description: description.clone(),
                        });
                    }
                } else {
                    // Not a plain string enum: leave it to serde.
                    return spec;
                }
            }
            spec.kind = Kind::Str;
            spec.choices = choices;
            return spec;
        }
        let ty = match v.get("type") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null"),
            _ => None,
        };
        spec.kind = match ty {
            Some("string") => Kind::Str,
            Some("integer") => Kind::Int,
            Some("number") => Kind::Float,
            Some("boolean") => Kind::Bool,
            Some("array") => {
                let items = v
                    .get("items")
                    .map(|i| self.type_spec(i))
                    .unwrap_or(TypeSpec {
                        kind: Kind::Raw,
                        choices: Vec::new(),
                        minimum: None,
                        maximum: None,
                    });
                Kind::List(Box::new(items))
            }
            Some("object") if v.get("properties").is_some() => Kind::Dict(self.object_options(v)),
            Some("object") => Kind::Map,
            _ => Kind::Raw,
        };
        spec
    }
}

fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}
