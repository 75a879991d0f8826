//! Writing XML: a small element builder with escaping and stable layout,
//! so rendered XML is byte-for-byte reproducible (golden tests, diffs).
//! Parsing uses roxmltree directly.

pub use roxmltree;

/// The first child element of `n` named `name`.
pub fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(name))
}

/// The child elements of `n` named `name`.
pub fn children<'a, 'i: 'a>(
    n: roxmltree::Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    n.children().filter(move |c| c.has_tag_name(name))
}

/// `0000:01:10.1` from a libvirt `<address domain='0x0000' bus='0x01'
/// slot='0x10' function='0x1'/>`; None when a part is missing.
pub fn pci_address(a: roxmltree::Node) -> Option<String> {
    let hex = |k: &str| {
        a.attribute(k)
            .and_then(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok())
    };
    Some(format!(
        "{:04x}:{:02x}:{:02x}.{:x}",
        hex("domain")?,
        hex("bus")?,
        hex("slot")?,
        hex("function")?
    ))
}

/// One element: name, attributes in insertion order, children or text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: Option<String>,
}

impl Element {
    pub fn new(name: &str) -> Element {
        Element {
            name: name.to_string(),
            ..Default::default()
        }
    }
    /// Add an attribute.
    pub fn attr(mut self, key: &str, value: impl ToString) -> Element {
        self.attrs.push((key.to_string(), value.to_string()));
        self
    }
    /// Add an attribute when there is a value.
    pub fn attr_opt<T: ToString>(self, key: &str, value: Option<T>) -> Element {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }
    pub fn child(mut self, c: Element) -> Element {
        self.children.push(c);
        self
    }
    pub fn child_opt(self, c: Option<Element>) -> Element {
        match c {
            Some(c) => self.child(c),
            None => self,
        }
    }
    pub fn children(mut self, cs: impl IntoIterator<Item = Element>) -> Element {
        self.children.extend(cs);
        self
    }
    pub fn text(mut self, t: impl ToString) -> Element {
        self.text = Some(t.to_string());
        self
    }

    /// Indented XML, two spaces a level, one element a line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(0, &mut out);
        out
    }

    fn write(&self, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        out.push_str(&pad);
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push_str(&format!(" {k}='{}'", escape(v)));
        }
        match (&self.text, self.children.is_empty()) {
            (Some(t), _) => out.push_str(&format!(">{}</{}>\n", escape(t), self.name)),
            (None, true) => out.push_str("/>\n"),
            (None, false) => {
                out.push_str(">\n");
                for c in &self.children {
                    c.write(depth + 1, out);
                }
                out.push_str(&format!("{pad}</{}>\n", self.name));
            }
        }
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_and_escapes() {
        let e = Element::new("network")
            .child(Element::new("name").text("a<b"))
            .child(
                Element::new("bridge")
                    .attr("name", "br'0")
                    .attr_opt::<u8>("stp", None),
            );
        assert_eq!(
            e.render(),
            "<network>\n  <name>a&lt;b</name>\n  <bridge name='br&apos;0'/>\n</network>\n"
        );
    }
}
