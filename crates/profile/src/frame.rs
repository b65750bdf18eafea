//! [`CallFrame`]: one function on a stack, and its name in folded stacks.

use serde::{Deserialize, Deserializer};

/// A function on a stack, as V8 reports it (`Runtime.CallFrame`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CallFrame {
    /// The function's name; empty for an anonymous function or the top level of a
    /// script. V8's pseudo-frames are `(root)`, `(program)`, `(idle)`, `(garbage collector)`.
    #[serde(default)]
    pub function_name: String,
    /// The script's URL (`file:///…/app.js`, `node:internal/…`); empty for native code.
    #[serde(default)]
    pub url: String,
    /// 0-based line of the function in the script; -1 when unknown.
    #[serde(default = "unknown")]
    pub line_number: i64,
    /// 0-based column; -1 when unknown.
    #[serde(default = "unknown")]
    pub column_number: i64,
    /// V8's id of the script (a string in the protocol; numbers are accepted too).
    #[serde(default, deserialize_with = "string_or_number")]
    pub script_id: String,
}

fn unknown() -> i64 {
    -1
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Id::deserialize(d)? {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    })
}

impl CallFrame {
    /// True for the `(root)` pseudo-frame at the bottom of every profile, which folded
    /// stacks leave out.
    pub fn is_root(&self) -> bool {
        self.function_name == "(root)" && self.url.is_empty()
    }

    /// The frame's name as Chrome DevTools and speedscope show it: `functionName` (or
    /// `(anonymous)`) followed by `(file.js:line)` with the 1-based line, so that functions
    /// of the same name in different places stay apart. Native code and V8's
    /// pseudo-frames have no URL and keep their bare name. `;` (the folded-stack
    /// separator) and line breaks are replaced.
    pub fn label(&self) -> String {
        let name = if self.function_name.is_empty() {
            "(anonymous)"
        } else {
            &self.function_name
        };
        let label = if self.url.is_empty() {
            name.to_owned()
        } else if self.line_number >= 0 {
            format!("{name} ({}:{})", short_url(&self.url), self.line_number + 1)
        } else {
            format!("{name} ({})", short_url(&self.url))
        };
        label.replace(';', ",").replace(['\n', '\r'], " ")
    }
}

/// The part of a script URL worth showing: the file name of a path or URL
/// (`file:///srv/app/lib/cache.js` → `cache.js`), Node's own modules in full
/// (`node:internal/timers`).
pub fn short_url(url: &str) -> &str {
    if url.starts_with("node:") {
        return url;
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.rsplit('/').next() {
        Some(file) if !file.is_empty() => file,
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str, url: &str, line: i64) -> CallFrame {
        CallFrame {
            function_name: name.into(),
            url: url.into(),
            line_number: line,
            column_number: 0,
            script_id: "1".into(),
        }
    }

    #[test]
    fn labels_like_devtools() {
        assert_eq!(
            frame("hotLoop", "file:///tmp/work/burn.js", 2).label(),
            "hotLoop (burn.js:3)"
        );
        assert_eq!(
            frame("", "/srv/app/server.js", 0).label(),
            "(anonymous) (server.js:1)"
        );
        assert_eq!(
            frame("listOnTimeout", "node:internal/timers", 511).label(),
            "listOnTimeout (node:internal/timers:512)"
        );
        assert_eq!(
            frame("(garbage collector)", "", -1).label(),
            "(garbage collector)"
        );
        assert_eq!(frame("f", "https://h/x.js?v=1;2", -1).label(), "f (x.js)");
        assert_eq!(frame("f", "a;b", 4).label(), "f (a,b:5)");
        assert_eq!(frame("f", "http://host/", 0).label(), "f (http://host/:1)");
        assert!(frame("(root)", "", -1).is_root());
        assert!(!frame("(root)", "x.js", 1).is_root());
    }

    #[test]
    fn script_ids_as_text_or_numbers() {
        let f: CallFrame = serde_json::from_str(
            r#"{"functionName":"a","url":"","lineNumber":1,"columnNumber":2,"scriptId":17}"#,
        )
        .unwrap();
        assert_eq!(f.script_id, "17");
        let f: CallFrame = serde_json::from_str(r#"{"functionName":"a","scriptId":"9"}"#).unwrap();
        assert_eq!((f.script_id.as_str(), f.line_number), ("9", -1));
    }
}
