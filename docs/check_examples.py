"""Run every ```python block in docs/*.md and check the results written in its comments.

Usage (from the repository root)::

    python docs/check_examples.py                  # every page
    python docs/check_examples.py docs/binary_hinge.md
    python docs/check_examples.py --require-peers  # fail, not skip, without torch/sklearn

Format of the examples
----------------------
Each ```python block is run; the blocks of one page share one namespace, in order.
A statement may end with one of these comments (on its last line)::

    expr  # -> VALUE        expr must equal VALUE exactly
    expr  # ≈ VALUE         expr must equal VALUE to the decimals written in VALUE
    stmt  # -> raises Exc   stmt must raise Exc (``# -> raises Exc: text`` also
                            checks that the message contains ``text``)

VALUE is a Python expression, evaluated with ``np``, ``array``, ``dtype``,
``float32``, ``float64``, ``nan`` and ``inf`` defined. "Equal" means:

- a tuple (or a list, when the result is a list): the same length, element by element;
- a NumPy scalar or array (``np.float32(0.325)``, ``array([...], dtype=float32)``):
  the same dtype, the same shape and the same values (NaN equals NaN);
- a number or a list: the same shape and the same values (``0.32499998807907104``
  checks a float32 result to the last bit);
- anything else (``True``, a string, a dtype): ``==``.

For ``# ≈``, the tolerance is half a unit of the finest decimal place written in
VALUE (``0.3033`` accepts ``[0.30325, 0.30335]``).

A block that imports a peer library (torch, sklearn, jax, dask, ...: ``PEERS``) that
is not installed is skipped and reported; ``--require-peers`` makes that a failure.
Keep such blocks self-contained.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import decimal
import importlib.util
import pathlib
import re
import sys
import textwrap
import traceback
from dataclasses import dataclass

import numpy as np

DOCS = pathlib.Path(__file__).resolve().parent
if importlib.util.find_spec("fasthinge") is None:  # run from a clone without installing it
    sys.path.insert(0, str(DOCS.parent))
PEERS = (
    "torch",
    "sklearn",
    "jax",
    "optax",
    "torchmetrics",
    "keras",
    "dask",
    "distributed",
    "array_api_compat",
)
FENCE = re.compile(r"^```python\s*$")
MARK = re.compile(r"#\s*(->|≈)\s*(.+?)\s*$")
RAISES = re.compile(r"^raises\s+([A-Za-z_][\w.]*)(?::\s*(.*))?$")
NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?:[eE][-+]?\d+)?|(?<![\w.])\d+[eE][-+]?\d+")
VALUE_NAMESPACE = {
    "np": np,
    "array": np.array,
    "dtype": np.dtype,
    "float32": np.float32,
    "float64": np.float64,
    "nan": np.nan,
    "inf": np.inf,
}


@dataclass
class Block:
    """One fenced ```python block: its page, first line number and source."""

    page: pathlib.Path
    line: int
    source: str


def blocks(page: pathlib.Path) -> list[Block]:
    """The ```python blocks of a Markdown page, in order."""
    found, current, start = [], None, 0
    for number, text in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if current is None:
            if FENCE.match(text.strip()):
                current, start = [], number + 1
        elif text.strip() == "```":
            found.append(Block(page, start, textwrap.dedent("\n".join(current) + "\n")))
            current = None
        else:
            current.append(text)
    if current is not None:
        raise SyntaxError(f"{page}: the ```python block at line {start - 1} is never closed")
    return found


def missing_peers(tree: ast.Module) -> list[str]:
    """Peer libraries the block imports that are not installed."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return sorted(r for r in roots & set(PEERS) if importlib.util.find_spec(r) is None)


def tolerance(text: str) -> float:
    """Half a unit of the finest decimal place among the numbers written in ``text``."""
    exponents = [decimal.Decimal(n).as_tuple().exponent for n in NUMBER.findall(text)]
    if not exponents:
        return 0.5
    return 0.5 * 10.0 ** min(exponents) * (1 + 1e-9)


def same(actual: object, expected: object, atol: float | None) -> bool:
    """Whether ``actual`` matches ``expected`` (see the module docstring)."""
    if isinstance(expected, tuple) or (isinstance(expected, list) and isinstance(actual, list)):
        return (
            isinstance(actual, type(expected))
            and len(actual) == len(expected)
            and all(same(a, e, atol) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, (bool, np.bool_)):
        return isinstance(actual, (bool, np.bool_)) and bool(actual) == bool(expected)
    if isinstance(expected, (np.ndarray, np.generic)):
        if not isinstance(actual, (np.ndarray, np.generic)) or actual.dtype != expected.dtype:
            return False
    if isinstance(expected, (int, float, list, np.ndarray, np.generic)):
        try:
            a, e = np.asarray(actual), np.asarray(expected)
        except ValueError:
            return False
        if a.shape != e.shape or a.dtype.kind not in "biuf" or e.dtype.kind not in "biuf":
            return False
        if atol is None:
            return bool(np.array_equal(a, e, equal_nan=True))
        return bool(np.allclose(a, e, rtol=0, atol=atol, equal_nan=True))
    return bool(actual == expected)


def shown(value: object) -> str:
    """A compact repr for failure messages."""
    text = repr(value)
    return text if len(text) < 400 else text[:397] + "..."


def run_block(block: Block, namespace: dict, log: list[str]) -> tuple[int, int]:
    """Run one block statement by statement; return (checks passed, checks failed)."""
    tree = ast.parse(block.source, filename=str(block.page))
    lines = block.source.splitlines()
    passed = failed = 0
    ends = {stmt.end_lineno for stmt in tree.body}
    for number, text in enumerate(lines, 1):
        if MARK.search(text) and number not in ends:
            failed += 1
            log.append(
                f"FAIL {block.page.name}:{block.line + number - 1}: a '# ->' or '# ≈' "
                "comment must end a top-level statement, or it is never checked"
            )
    for stmt in tree.body:
        line = lines[stmt.end_lineno - 1]
        where = f"{block.page.name}:{block.line + stmt.end_lineno - 1}"
        mark = MARK.search(line)
        code = compile(ast.Module([stmt], type_ignores=[]), where, "exec")
        if mark is None:
            exec(code, namespace)
            continue
        kind, text = mark.groups()
        raises = RAISES.match(text) if kind == "->" else None
        try:
            if raises:
                exc_type = eval(raises.group(1), {**vars(builtins), **namespace})
                try:
                    exec(code, namespace)
                except exc_type as exc:
                    ok = raises.group(2) is None or raises.group(2) in str(exc)
                    actual = f"{type(exc).__name__}: {exc}"
                else:
                    ok, actual = False, "no exception"
            else:
                if not isinstance(stmt, ast.Expr):
                    raise SyntaxError(f"{where}: only an expression can carry '# {kind}'")
                expr = compile(ast.Expression(stmt.value), where, "eval")
                actual = eval(expr, namespace)
                expected = eval(text, dict(VALUE_NAMESPACE))
                ok = same(actual, expected, tolerance(text) if kind == "≈" else None)
        except Exception:
            ok, actual = False, traceback.format_exc(limit=2)
        if ok:
            passed += 1
        else:
            failed += 1
            log.append(f"FAIL {where}\n    {line.strip()}\n    got: {shown(actual)}")
    return passed, failed


def check(pages: list[pathlib.Path], require_peers: bool) -> int:
    """Check ``pages``; print a summary; return the process exit status."""
    total_passed = total_failed = skipped = 0
    for page in pages:
        namespace: dict = {"__name__": "__docs__"}
        log: list[str] = []
        page_passed = page_failed = 0
        for block in blocks(page):
            try:
                absent = missing_peers(ast.parse(block.source))
            except SyntaxError as exc:
                page_failed += 1
                log.append(f"FAIL {page.name}:{block.line}: {exc}")
                continue
            if absent:
                if require_peers:
                    page_failed += 1
                    log.append(f"FAIL {page.name}:{block.line}: {', '.join(absent)} not installed")
                else:
                    skipped += 1
                    log.append(f"SKIP {page.name}:{block.line}: {', '.join(absent)} not installed")
                continue
            try:
                p, f = run_block(block, namespace, log)
            except Exception:
                p, f = 0, 1
                log.append(
                    f"FAIL {page.name}:{block.line}: the block raised\n"
                    + traceback.format_exc(limit=3)
                )
            page_passed += p
            page_failed += f
        status = "ok" if page_failed == 0 else "FAILED"
        name = page.relative_to(DOCS.parent) if page.is_relative_to(DOCS.parent) else page
        print(f"{name}: {page_passed} checks passed, {page_failed} failed [{status}]")
        for entry in log:
            print("  " + entry.replace("\n", "\n  "))
        total_passed += page_passed
        total_failed += page_failed
    print(f"total: {total_passed} passed, {total_failed} failed, {skipped} blocks skipped")
    return 1 if total_failed else 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=pathlib.Path, help="default: docs/*.md")
    parser.add_argument(
        "--require-peers", action="store_true",
        help="fail (instead of skipping) blocks whose peer library is not installed",
    )  # fmt: skip
    args = parser.parse_args(argv)
    pages = [p.resolve() for p in args.pages] or sorted(DOCS.glob("*.md"))
    return check(pages, args.require_peers)


if __name__ == "__main__":
    sys.exit(main())
