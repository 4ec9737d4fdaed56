//! How the analyses write their numbers in sentences, and show the sentences in a notebook.
use std::fmt::Display;

use crate::table::{evcxr_html, text_to_html, thousands};

/// e.g. `1 error`, `1,024 errors`.
pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// e.g. `115 s`, or `2.5 s` for short runs.
pub(super) fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// `a / b`, as `2.0x`; `?x` when `b` is not positive.
pub(super) fn times(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}x", a / b)
    } else {
        "?x".to_owned()
    }
}

/// Prints `text` as the HTML evcxr shows: bullets as a list, other lines as paragraphs.
pub(super) fn print_as_html(text: &impl Display) {
    print!("{}", evcxr_html(&text_to_html(&text.to_string())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_seconds_and_ratios_read_as_words() {
        assert_eq!(plural(1, "time", "times"), "1 time");
        assert_eq!(plural(12_000, "time", "times"), "12,000 times");
        assert_eq!(seconds(115.4), "115 s");
        assert_eq!(seconds(2.54), "2.5 s");
        assert_eq!(times(16_458.0, 8138.0), "2.0x");
        assert_eq!(times(1.0, 0.0), "?x");
    }
}
