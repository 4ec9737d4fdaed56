//! Exercises of the handouts (`make handouts`, `notebooks/handouts/`): what an unfinished
//! exercise returns, and the checks that tell a student whether an answer is right.
//!
//! Both are error values, not panics: a panic in an evcxr cell restarts the kernel and loses
//! every variable, which is the last thing a student who got something wrong needs. A check
//! cell reads like a list of `assert!`s, each with `?`:
//!
//! ```
//! use lstm_support::exercise::check;
//! let parameters = 4 * (28 * 32 + 32 * 32 + 32) + (32 * 10 + 10);
//! check(parameters == 8_138, "count W, U and b for each of the four gates, then the Dense head")?;
//! # Ok::<(), lstm_support::Error>(())
//! ```
use crate::error::{Error, Result};

/// What the stub of an exercise returns in a handout: the exercise's task, as an error, so
/// that the cell stops there and says what to write. `task` is the cell's own sentence, so
/// that the message names this exercise.
pub fn unfinished(task: &str) -> Result<()> {
    shown(Error::Unfinished {
        task: task.to_string(),
    })
}

/// One assertion of a check cell: `Ok` when `holds`, else an error with `hint`, which says
/// what to look at (not the answer).
pub fn check(holds: bool, hint: impl Into<String>) -> Result<()> {
    if holds {
        Ok(())
    } else {
        shown(Error::CheckFailed { hint: hint.into() })
    }
}

/// What starts the stdout line of a failed check or an unfinished exercise: the project's kernel
/// (`tools/kernel_proxy.py`) turns the line into the cell's Jupyter error, with this name and
/// the message, so that nbgrader scores the check 0 and "Run All" stops there.
pub const FAILED_LINE: &str = "lstm_support::Error: ";

/// `error`, also printed on stdout after [`FAILED_LINE`]. evcxr prints an error returned by `?`
/// on stderr, which it forwards on its own schedule (the line can arrive after the cell has
/// finished) and reports the cell as successful. Stdout arrives with the cell, so the kernel
/// knows at the end of the cell that it failed, and with which message.
fn shown(error: Error) -> Result<()> {
    println!("{}", failed_line(&error));
    Err(error)
}

/// The line [`shown`] prints: one line, whatever the message holds.
fn failed_line(error: &Error) -> String {
    format!("{FAILED_LINE}{}", error.to_string().replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_exercise_says_what_to_write() {
        let message = unfinished("split the training images 80/20")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("split the training images 80/20"),
            "{message}"
        );
        assert!(message.contains("not done yet"), "{message}");
    }

    #[test]
    fn the_printed_line_is_the_marker_and_the_message_on_one_line() {
        let error = Error::CheckFailed {
            hint: "count the biases\ntoo".to_string(),
        };
        assert_eq!(
            failed_line(&error),
            "lstm_support::Error: check failed: count the biases too"
        );
    }

    #[test]
    fn a_check_passes_or_gives_its_hint() {
        assert!(check(true, "never shown").is_ok());
        let message = check(false, "count the biases too")
            .unwrap_err()
            .to_string();
        assert!(message.contains("count the biases too"), "{message}");
    }
}
