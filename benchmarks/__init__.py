"""zlens' benchmark suite: z capture and encode, measured side by side with the alternatives.

Run `python -m benchmarks [--quick]`; see `benchmarks/__main__.py` for the options, `suite.py`
for which process runs which row, and issues 4 and 14 for what each row means. Benchmarks are
not tests: nothing here asserts a timing.
"""

from pathlib import Path

#: The folder holding `benchmarks/`: where its child processes run `python -m benchmarks.…`.
REPO_ROOT = Path(__file__).resolve().parent.parent
