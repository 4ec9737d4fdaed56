# nbgrader settings for these Rust notebooks (`tools/make_handouts.py` uses the same settings).
# With nbgrader itself: `make nbgrader-course COURSE=<dir>` writes a course whose
# nbgrader_config.py loads this file (tools/nbgrader_course.py).

# What replaces the code between `// BEGIN SOLUTION` and `// END SOLUTION`: an error that stops
# the cell with the cell's own `task` sentence. Never `todo!()` or a panic: in evcxr a panic
# kills the kernel and every variable.
RUST_STUB = "// YOUR CODE HERE\nexercise::unfinished(task)?;"

# What replaces a written answer (a markdown cell with nbgrader's solution metadata: the
# notebooks' conclusions).
TEXT_STUB = (
    "YOUR ANSWER HERE: answer the question above. Cite the numbers the cells printed, and say "
    "which differences are larger than their noise."
)



def configure_clear_solutions(c):
    """ClearSolutions' settings for these notebooks, on a traitlets config `c`: nbgrader's own
    (below) and the one `tools/make_handouts.py` builds."""
    c.ClearSolutions.code_stub = {"rust": RUST_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
    c.ClearSolutions.end_solution_delimeter = "END SOLUTION"


if "get_config" in globals():
    configure_clear_solutions(get_config())  # noqa: F821 (provided by nbgrader when it loads this file)
