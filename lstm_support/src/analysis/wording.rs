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

/// Two significant digits, e.g. `p = 0.039`, `p = 0.22`; `p < 0.001` below that.
pub(super) fn p_value(p: f64) -> String {
    let number = p_number(p);
    if number.starts_with('<') {
        format!("p {number}")
    } else {
        format!("p = {number}")
    }
}

/// A p-value as a table shows it: `0.039`, `0.22`, `< 0.001`.
pub(super) fn p_number(p: f64) -> String {
    if p < 0.001 {
        return "< 0.001".to_owned();
    }
    let decimals = (1 - p.log10().floor() as i32).max(2) as usize;
    format!("{p:.decimals$}")
}

/// An interval of fractions in points, e.g. `[+0.04, +0.16] points`.
pub(super) fn points_interval(low: f64, high: f64) -> String {
    format!("[{:+.2}, {:+.2}] points", 100.0 * low, 100.0 * high)
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
        assert_eq!(p_value(158.0 / 4096.0), "p = 0.039");
        assert_eq!(p_value(1.0), "p = 1.00");
        assert_eq!(p_value(0.21875), "p = 0.22");
        assert_eq!(p_value(0.0004), "p < 0.001");
        assert_eq!(p_number(0.0069), "0.0069");
        assert_eq!(p_number(0.0004), "< 0.001");
        assert_eq!(points_interval(0.0004, -0.0016), "[+0.04, -0.16] points");
    }
}
