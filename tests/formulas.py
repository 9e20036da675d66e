"""Read the display formulas of a page as displayed, evaluate them, and prove scalar steps.

The site promises that what a reader sees is what was checked. This module reads the LaTeX
of a display formula straight from the page, splits it into its parts (every side of every
relation, on every line of an ``aligned`` block, in every statement separated by ``\\qquad``),
evaluates each part with NumPy values bound to its symbols, and asserts that the parts agree
with each other and with the code's results bound to the same symbols. Where every part of a
statement is a scalar expression it also proves, with sympy, that consecutive parts are equal
as expressions.

A small recursive-descent parser for the LaTeX subset the site uses is written here rather
than sympy's ``parse_latex``: that parser knows neither bold vectors, transposes, ``\\odot``,
underbraced shapes nor the site's rule from symbols to code names, and it would turn
``y(1 - a)`` into a function call. The parser builds a small tree; the tree is evaluated with
NumPy and, for scalar statements, converted to sympy.

How a test uses it (see tests/models/test_logistic_regression.py)::

    FORMULAS = {
        # keyed by the snippet section included right after the formula on the page
        "sigmoid": Case(lambda rng: [{"z": rng.normal(size=5), "sigma": sigmoid}]),
    }
    test_displayed_formulas = formula_test("models/logistic-regression.md", FORMULAS)

Each environment (a dict) binds names to values: inputs chosen by the test and the results
of the code, under the names the rule below gives. The rule from symbols to names is stated
on docs/notation.md ("How formulas are read"):

- a letter is its own name, bold or not (``\\mathbf{w}`` -> ``w``); Greek letters by their
  name (``\\alpha`` -> ``alpha``, ``\\varepsilon`` -> ``varepsilon``), except ``\\lambda`` ->
  ``lam`` (a Python keyword) and the learning rate ``\\eta`` -> ``lr``;
  ``\\ell`` -> ``loss``; ``\\mathcal{L}`` -> ``Loss``; other ``\\mathcal{B}`` -> ``cal_B``;
- decorations append: ``\\hat y`` -> ``y_hat``, ``\\tilde X`` -> ``X_tilde``, a prime ``'``,
  ``^{+}`` -> ``+``, ``^\\ast`` -> ``*``; a layer superscript ``W^{(l)}`` -> ``W2`` when l = 2;
- a subscript is an index when it is an index variable (bound by a sum, declared by a range
  ``j = 1, \\dots, n``, or free with a known range), 1-based on the page and 0-based in code:
  ``x_{ij}`` -> ``X[i, j]`` (a lower-case letter with two indices reads its upper-case
  matrix), ``\\mathbf{x}_i`` -> ``X[i]``, ``z_{i y_i}`` -> ``Z[i, y[i]]``; any other
  subscript is part of the name: ``\\eta_{\\text{best}}`` -> ``eta_best``, ``\\beta_1`` ->
  ``beta_1`` (a numeric subscript is tried as a name first, then as an index);
- derivatives are names: ``\\frac{\\partial \\ell}{\\partial z}`` -> ``dloss/dz``,
  ``\\nabla_{\\mathbf{w}} \\mathcal{L}`` -> ``dLoss/dw`` (also found as ``dw``), with the
  indices of numerator and denominator applied to the bound array:
  ``\\frac{\\partial \\mathcal{L}}{\\partial z_{ik}}`` -> ``dLoss/dZ[i, k]``. A derivative of
  an expression (``\\frac{\\partial (A\\mathbf{x})}{\\partial \\mathbf{x}}``,
  ``\\frac{d}{dx}\\sin x``) is computed: symbolically for scalars, else by central differences;
- juxtaposition of matrices and vectors is the matrix product, of scalars the product;
  ``y(1 - a)`` is a product unless ``y`` is bound to a function; ``\\odot`` is ``*``;
  ``^\\top`` transposes (a transposed vector is a row, and a row never equals a column);
  ``\\mathbf{1}`` is a vector of ones as long as the product needs;
- ``\\begin{cases}`` picks, at every point, the one branch whose condition holds; every branch
  must be taken at some point of the test's environments, or the test fails.

A construct the reader cannot read raises ``Unreadable`` naming it; the test then fails with
the page and the equation. Formulas that cannot be evaluated at all are listed, with a
reason, in tests/unevaluable.py.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from pages import DOCS, parse_page

#: Relative and absolute tolerance between two exact forms of the same quantity (one
#: displayed step against the next, or against the code): float64 rounding of a different
#: order of operations, a few units of 2.2e-16 per operation, grown by sums over examples.
EXACT_RTOL = 1e-9
EXACT_ATOL = 1e-12

#: Tolerance for a part that the reader differentiates by central differences
#: (h = 1e-6 relative): truncation error ~h^2 |f'''| plus rounding ~eps |f| / h, below 1e-7
#: for the well-scaled values the tests bind; a wrong sign or factor is off by order 1.
FD_RTOL = 1e-6
FD_ATOL = 1e-8
FD_STEP = 1e-6


class Unreadable(Exception):
    """A construct the reader does not know how to read or evaluate."""


class FreeIndex(Exception):
    """An index variable with no value yet: the statement is evaluated for each of its values."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class Mismatch(AssertionError):
    pass


class SkipPoint(Exception):
    """A condition written beside a statement, (l < L), does not hold at this point."""


# --------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\\[a-zA-Z]+\*?|\\.|\d+(?:\.\d+)?|\S", re.S)

_DROP = {
    r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\biggl", r"\biggr",
    r"\big", r"\Big", r"\bigg", r"\Bigg", r"\displaystyle", r"\textstyle", r"\,", r"\;",
    r"\!", r"\:", r"\ ", r"\limits", r"\nolimits", r"\mathrm",
}

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
    "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
}

_RELATIONS = {
    "=": "=", r"\approx": "~", r"\le": "<=", r"\leq": "<=", r"\ge": ">=", r"\geq": ">=",
    "<": "<", ">": ">", r"\ne": "!=", r"\neq": "!=", r"\leftarrow": "<-", r"\in": "in",
}
_CONNECTIVES = {r"\iff", r"\Longleftrightarrow", r"\Rightarrow", r"\Longrightarrow", r"\implies"}
_SEPARATORS = {r"\qquad", r"\quad"}
_CONNECTIVE_WORDS = {"so", "or", "and", "with", "where", "that", "is"}

#: Functions the reader knows without a binding: name -> (NumPy, sympy name).
_BUILTIN = {
    r"\log": "log", r"\ln": "log", r"\exp": "exp", r"\sin": "sin", r"\cos": "cos",
    r"\tan": "tan", r"\tanh": "tanh", r"\cosh": "cosh", r"\sinh": "sinh", r"\max": "max",
    r"\min": "min", r"\det": "det", r"\arg": "arg",
}
_OPERATORNAME_BUILTIN = {"sign", "clip", "diag", "tr", "erf", "Im", "Re"}


_TEXT = re.compile(r"\\(?:text|textrm|mbox)\s*\{((?:[^{}]|\{[^{}]*\})*)\}")


def tokenize(tex: str) -> list[str]:
    tex = re.sub(r"\\tag\{[^}]*\}", " ", tex)
    tex = re.sub(r"(?<!\\)%.*", " ", tex)
    texts: list[str] = []

    def keep_text(m: re.Match) -> str:
        texts.append(m[1])
        return " \\zztext" + "".join(chr(97 + int(d)) for d in str(len(texts) - 1)) + " "

    tex = _TEXT.sub(keep_text, tex)
    out: list[str] = []
    toks = _TOKEN.findall(tex)
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == r"\phantom":
            i = _skip_group(toks, i + 1)
            continue
        if t == "\\\\":
            out.append(t)
            if i + 1 < len(toks) and toks[i + 1] == "[":   # \\[1.2ex]
                j = toks.index("]", i + 1)
                i = j + 1
                continue
            i += 1
            continue
        if t.startswith("\\zztext"):
            out.append("TEXT:" + texts[int("".join(str(ord(c) - 97) for c in t[7:]))])
            i += 1
            continue
        if t == r"\operatorname*":
            t = r"\operatorname"
        if t == r"\text" or t == r"\textrm" or t == r"\mathrm" or t == r"\mbox":
            # keep the raw text of \text{...} as one token
            j = i + 1
            if j < len(toks) and toks[j] == "{":
                depth, k = 0, j
                words = []
                while k < len(toks):
                    if toks[k] == "{":
                        depth += 1
                        if depth > 1:
                            words.append("{")
                    elif toks[k] == "}":
                        depth -= 1
                        if depth == 0:
                            break
                        words.append("}")
                    else:
                        words.append(toks[k])
                    k += 1
                out.append("TEXT:" + _text_of(tex, words))
                i = k + 1
                continue
        if t in _DROP:
            i += 1
            continue
        out.append(t)
        i += 1
    return out


def _text_of(tex: str, words: list[str]) -> str:
    return " ".join(words).replace(" ,", ",").replace("( ", "(").replace(" )", ")").strip()


def _skip_group(toks: list[str], i: int) -> int:
    if i >= len(toks) or toks[i] != "{":
        return i + 1
    depth = 0
    while i < len(toks):
        if toks[i] == "{":
            depth += 1
        elif toks[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


_OPEN = {"{": "}", "(": ")", "[": "]", r"\{": r"\}", r"\lVert": r"\rVert", r"\lvert": r"\rvert",
         r"\lfloor": r"\rfloor", r"\lceil": r"\rceil", r"\langle": r"\rangle"}
_CLOSE = set(_OPEN.values())


def _split_top(toks: list[str], is_sep: Callable[[list[str], int], bool]) -> list[list[str]]:
    """Split a token list at separators that are outside every bracket and environment."""
    parts, cur, depth = [], [], 0
    for i, t in enumerate(toks):
        if t in _OPEN or t == r"\begin":
            depth += 1
        elif t in _CLOSE or t == r"\end":
            depth -= 1
        if depth == 0 and is_sep(toks, i):
            parts.append(cur)
            cur = []
            continue
        cur.append(t)
    parts.append(cur)
    return parts


# --------------------------------------------------------------------------------------
# Statements: split a display formula into relation chains
# --------------------------------------------------------------------------------------

@dataclass
class Statement:
    tokens: list[str]
    line: int             # line of the aligned block, 1-based
    tex: str = ""
    label: str | None = None   # "every weight 0:" written before it: where it applies

    def __post_init__(self):
        self.tex = " ".join(self.tokens)


def statements(tex: str) -> list[Statement]:
    toks = tokenize(tex)
    # An aligned block: drop its begin/end, split into lines at top-level \\.
    if toks[:4] == [r"\begin", "{", "a", "l"] or (toks and toks[0] == r"\begin"
                                                   and "".join(toks[1:10]).startswith("{aligned}")):
        close = toks.index("}")
        toks = toks[close + 1:]
        end = len(toks) - 1 - toks[::-1].index(r"\end")
        after = toks[end:]
        after = after[after.index("}") + 1:] if "}" in after else []
        if any(t not in (",", ".", r"\quad", r"\qquad") for t in after):
            # statements written after the block would belong to no line: refuse them
            raise Unreadable("a statement after \\end{aligned}: put it inside the block")
        toks = toks[:end]
    lines = _split_top(toks, lambda ts, i: ts[i] == "\\\\")
    result: list[Statement] = []
    label = None
    anchor: Statement | None = None     # the statement whose "&" the next line aligns with
    for no, line in enumerate(lines, start=1):
        if not _drop_top_ampersands(line):
            continue
        pieces = _split_statements(line)
        next_anchor = None
        for k, raw in enumerate(pieces):
            aligned = len(_drop_top_ampersands(raw)) != len(raw)
            piece = _drop_top_ampersands(raw)
            if not piece:
                continue
            if piece[0].startswith("TEXT:") and piece[0][5:].strip() == "for" and len(piece) > 1:
                piece = piece[1:]          # "for k = 1, \dots, K": a range
            if piece[0].startswith("TEXT:") and all(
                    re.fullmatch(r"\w+", t) or t.startswith("TEXT:") for t in piece[1:]):
                # words alone, "every weight 0:", name the case the next statements hold in
                words = " ".join(t[5:].strip() if t.startswith("TEXT:") else t for t in piece)
                label = " ".join(words.rstrip(":").split())
                continue
            if k == 0 and piece[0] in _RELATIONS and result:
                # a continuation line, "&= ...", continues the chain its "&" aligns with
                target = anchor if anchor is not None else result[-1]
                target.tokens.extend(piece)
                target.tex = " ".join(target.tokens)
                if aligned:
                    next_anchor = target
            else:
                result.append(Statement(piece, no, label=label))
                if aligned:
                    next_anchor = result[-1]
        anchor = next_anchor
    return result


def _drop_top_ampersands(line: list[str]) -> list[str]:
    out, depth = [], 0
    for t in line:
        if t in _OPEN or t == r"\begin":
            depth += 1
        elif t in _CLOSE or t == r"\end":
            depth -= 1
        if t == "&" and depth == 0:
            continue
        out.append(t)
    return out


def _split_statements(line: list[str]) -> list[list[str]]:
    def sep(ts: list[str], i: int) -> bool:
        t = ts[i]
        if t in _SEPARATORS or t in _CONNECTIVES or t == ":":
            return True
        if t == ",":
            nxt = ts[i + 1] if i + 1 < len(ts) else None
            prv = ts[i - 1] if i > 0 else None
            if nxt in (r"\dots", r"\ldots") or prv in (r"\dots", r"\ldots"):
                return False   # a range "j = 1, \dots, n" stays one statement
            return True
        if t.startswith("TEXT:") and _is_connective(t[5:]):
            return True
        return False

    return [p for p in _split_top(line, sep) if p]


def _is_connective(text: str) -> bool:
    words = re.findall(r"[A-Za-z]+", text)
    return bool(words) and all(w.lower() in _CONNECTIVE_WORDS for w in words) \
        and not re.search(r"[=<>]", text)


# --------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------

@dataclass
class Node:
    pass


@dataclass
class Num(Node):
    value: float


@dataclass
class Sym(Node):
    base: str                       # name of the letter (bold dropped)
    sub: list[str] | None = None    # tokens of the subscript
    layer: list[str] | None = None  # tokens of a parenthesised superscript (l)
    marks: str = ""                 # decorations: _hat, ', +, -, *
    tex: str = ""


@dataclass
class Ones(Node):
    pass


@dataclass
class Zeros(Node):
    pass


@dataclass
class Unary(Node):
    op: str
    arg: Node


@dataclass
class Bin(Node):
    op: str          # + - * (juxtaposition / cdot) odot /
    left: Node
    right: Node


@dataclass
class Power(Node):
    base: Node
    exp: Node


@dataclass
class Transpose(Node):
    arg: Node


@dataclass
class Index(Node):
    arg: Node
    idx: list[str]


@dataclass
class Apply(Node):
    """f(args): a builtin, a bound function, or (when f is a value) a product."""
    fn: Node | str
    args: list[Node]
    paren: bool = True
    #: f(x)^2 squares the value of f; b (y - x^2)^2 squares only the parenthesis: which one
    #: is known when f is looked up, so a power written after the parenthesis waits here.
    power: Node | None = None


@dataclass
class Reduce(Node):
    op: str                 # sum, max, min, argmax
    var: str | None
    lo: Node | None
    hi: Node | None
    cond: tuple | None      # (relation, node)
    body: Node
    over: Node | None = None  # \sum_{i \in S}


@dataclass
class Limit(Node):
    """lim_{h -> a} E: E evaluated at a +- a small step, averaged (a central difference)."""
    var: Node
    to: Node
    body: Node


@dataclass
class DomainOf(Node):
    """The candidates of a reduction over a variable that is not an index (the test's)."""
    var: str


@dataclass
class Norm(Node):
    arg: Node
    p: str = "2"


@dataclass
class Abs(Node):
    arg: Node


@dataclass
class Floor(Node):
    arg: Node
    ceil: bool = False


@dataclass
class Iverson(Node):
    chain: Chain


@dataclass
class Condition(Node):
    """(l < L) written beside an expression: it must hold where the formula is evaluated."""
    chain: Chain


@dataclass
class Cases(Node):
    branches: list[tuple[Node, list]]   # (value, condition tokens)
    uid: int = 0


@dataclass
class Matrix(Node):
    rows: list[list[Node]]


@dataclass
class Shaped(Node):
    arg: Node
    shape: list[str] | None     # tokens of the underbrace subscript; None: a text note


@dataclass
class Named(Node):
    """An underbrace that names its part: the part must equal the name's value."""
    arg: Node
    name: Node


@dataclass
class SetLit(Node):
    items: list[Node]
    #: {f(a), \dots, f(b)}: the item written with a hole, and the first and last value
    elided: tuple[list[str], Node, Node] | None = None


@dataclass
class Reals(Node):
    dims: list[list[str]]


@dataclass
class Deriv(Node):
    """A derivative: a name (symbol over symbol) or computed (an expression over a variable)."""
    num: Node | None        # None: an operator d/dx applied to `operand`
    den: Node
    operand: Node | None = None
    tex: str = ""


@dataclass
class Grad(Node):
    """\\nabla_v F, or \\nabla F as a function name."""
    sub: Node | None
    arg: Node


@dataclass
class Text(Node):
    text: str


@dataclass
class Chain(Node):
    parts: list[Node]
    rels: list[str]
    ranges: list[tuple[str, Node, Node]] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------

_FUNC_ARG_STOP = {"+", "-", "=", ",", ")", "]", "}", "&", "\\\\"} | set(_RELATIONS) | _SEPARATORS


class Parser:
    _cases_counter = itertools.count(1)

    def __init__(self, tokens: list[str]):
        self.t = tokens
        self.i = 0

    # helpers
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def next(self) -> str:
        if self.i >= len(self.t):
            raise Unreadable("the formula ends where an expression was expected")
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        got = self.next()
        if got != tok:
            raise Unreadable(f"expected {tok!r}, found {got!r}")

    def group_tokens(self) -> list[str]:
        """The tokens of a {...} group or of a single token."""
        tok = self.next()
        if tok != "{":
            return [tok]
        depth, out = 1, []
        while True:
            tok = self.next()
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    return out
            out.append(tok)

    def sub_parser(self, toks: list[str]) -> Parser:
        return Parser(toks)

    def parse_group_expr(self) -> Node:
        toks = self.group_tokens()
        p = Parser(toks)
        node = p.expr()
        if p.peek() is not None:
            raise Unreadable(f"could not read {' '.join(toks)!r} after {' '.join(toks[:p.i])!r}")
        return node

    # grammar
    def chain(self) -> Chain:
        ranges = []
        parts = [self.expr()]
        rels: list[str] = []
        while self.peek() in _RELATIONS:
            rel = _RELATIONS[self.next()]
            if rel == "=" and self.peek() == "1" and self.peek(1) == "," and \
                    self.peek(2) in (r"\dots", r"\ldots"):
                # a range: j = 1, \dots, n
                var = parts.pop()
                self.i += 3
                self.expect(",")
                hi = self.expr()
                if not isinstance(var, Sym):
                    raise Unreadable("a range must name a single index variable")
                ranges.append((var.base, Num(1), hi))
                break
            rels.append(rel)
            if rel == "in" and self.peek() in (r"\mathbb", r"\{"):
                parts.append(self.set_or_space())
            else:
                parts.append(self.expr())
        if self.peek() is not None:
            raise Unreadable(f"could not read from {' '.join(self.t[self.i:self.i + 8])!r}")
        return Chain(parts, rels, ranges)

    def set_or_space(self) -> Node:
        tok = self.next()
        if tok == r"\mathbb":
            letter = self.group_tokens()
            if letter != ["R"]:
                raise Unreadable(f"the set \\mathbb{{{''.join(letter)}}}")
            if self.peek() == "^":
                self.next()
                dims = _split_top(self.group_tokens(), lambda ts, i: ts[i] == r"\times")
                return Reals(dims)
            return Reals([])
        items = _split_top(self._until(r"\}"), lambda ts, i: ts[i] == ",")
        return _set_literal(items)

    def _until(self, close: str) -> list[str]:
        depth, out = 0, []
        while True:
            tok = self.next()
            if tok == close and depth == 0:
                return out
            if tok in _OPEN:
                depth += 1
            elif tok in _CLOSE:
                depth -= 1
            out.append(tok)

    def expr(self) -> Node:
        sign = None
        if self.peek() in ("+", "-"):
            sign = self.next()
        node = self.term()
        if sign == "-":
            node = Unary("-", node)
        while self.peek() in ("+", "-", r"\pm"):
            op = self.next()
            if op == r"\pm":
                raise Unreadable("\\pm")
            node = Bin(op, node, self.term())
        return node

    def starts_factor(self, tok: str | None) -> bool:
        if tok is None:
            return False
        if tok in _FUNC_ARG_STOP or tok in _CLOSE or tok in _CONNECTIVES:
            return False
        if tok in (r"\cdot", r"\odot", r"\times", "/", r"\to", r"\mapsto", r"\sim", "|",
                   r"\dots", r"\cdots", r"\ldots", r"\vdots", r"\ddots", "'", "^", "_"):
            return tok == "|" and False
        if tok.startswith("TEXT:"):
            return False
        return True

    def term(self) -> Node:
        node = self.factor()
        while True:
            tok = self.peek()
            if tok in (r"\cdot", r"\times"):
                self.next()
                node = Bin("*", node, self.factor())
            elif tok == r"\odot":
                self.next()
                node = Bin("odot", node, self.factor())
            elif tok == "/":
                self.next()
                node = Bin("/", node, self.factor())
            elif tok == "|" and self._abs_opens():
                node = Bin("*", node, self.factor())
            elif self.starts_factor(tok):
                node = Bin("*", node, self.factor())
            elif tok in (r"\dots", r"\cdots", r"\ldots"):
                raise Unreadable(f"{tok} (an elided sequence)")
            else:
                return node

    def _abs_opens(self) -> bool:
        # a '|' that opens an absolute value has a matching '|' later at the same depth
        depth = 0
        for tok in self.t[self.i + 1:]:
            if tok in _OPEN:
                depth += 1
            elif tok in _CLOSE:
                if depth == 0:
                    return False
                depth -= 1
            elif tok == "|" and depth == 0:
                return True
        return False

    def factor(self) -> Node:
        node = self.atom()
        return self.postfix(node)

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok == "^":
                self.next()
                node = self.superscript(node)
            elif tok == "_":
                self.next()
                sub = self.group_tokens()
                if isinstance(node, Sym) and node.sub is None and not node.layer:
                    node.sub = sub
                elif isinstance(node, Sym) and node.sub is None:
                    node.sub = sub
                else:
                    node = Index(node, sub)
            elif tok == "'":
                self.next()
                if isinstance(node, Sym):
                    node.marks += "'"
                else:
                    raise Unreadable("a prime on an expression")
            elif tok == "!" and not isinstance(node, Num | Sym):
                raise Unreadable("a factorial of an expression")
            elif tok == "!":
                self.next()
                node = Apply("factorial", [node])
            elif tok == "(" and self._callable_syntax(node):
                args = self.paren_args()
                node = Apply(node, args)
                if self.peek() == "^" and self.peek(1) != r"\top":
                    self.next()
                    toks = self.group_tokens()
                    if toks == [r"\top"]:
                        node = Transpose(node)
                    else:
                        node.power = _parse_all(toks)
            else:
                return node

    def _callable_syntax(self, node: Node) -> bool:
        return isinstance(node, Sym | Deriv | Grad) or (
            isinstance(node, Apply) and isinstance(node.fn, str) and not node.args)

    def superscript(self, node: Node) -> Node:
        if self.peek() in (r"\top", "T") and self.peek() != "T":
            self.next()
            return Transpose(node)
        toks = self.group_tokens()
        if toks == [r"\top"]:
            return Transpose(node)
        if toks and toks[0] == "(" and toks[-1] == ")" and isinstance(node, Sym) and node.layer is None:
            rest = toks
            # W^{(l)\top}
            if rest[-1] == r"\top":
                rest = rest[:-1]
            if rest[0] == "(" and rest[-1] == ")":
                node.layer = rest[1:-1]
                return Transpose(node) if toks[-1] == r"\top" else node
        if toks and toks[0] == "(" and toks[-2:] == [")", r"\top"] and isinstance(node, Sym):
            node.layer = toks[1:-2]
            return Transpose(node)
        if isinstance(node, Sym) and toks in (["+"], ["-"], [r"\ast"], ["*"], [r"\prime"]):
            node.marks += {"+": "+", "-": "-", r"\ast": "*", "*": "*", r"\prime": "'"}[toks[0]]
            return node
        if toks[-1:] == [r"\top"]:
            return Transpose(Power(node, Parser(toks[:-1]).expr()))
        p = Parser(toks)
        exp = p.expr()
        if p.peek() is not None:
            raise Unreadable(f"superscript {' '.join(toks)!r}")
        return Power(node, exp)

    def paren_args(self) -> list[Node]:
        self.expect("(")
        inner = self._until(")")
        bars = sum(1 for t in _split_top(inner, lambda ts, i: False)[0] if t == r"\|")
        items = _split_top(inner, lambda ts, i: ts[i] == "," or (bars == 1 and ts[i] == r"\|"))
        out = []
        for it in items:
            p = Parser(it)
            if _top_relation(it):
                out.append(p.chain())         # P(i \in B): an event, for a bound function
                continue
            out.append(p.expr())
            if p.peek() is not None:
                raise Unreadable(f"could not read the argument {' '.join(it)!r}")
        return out

    # atoms
    def atom(self) -> Node:
        tok = self.next()
        if re.fullmatch(r"\d+(\.\d+)?", tok):
            return Num(float(tok))
        if tok == "(" or tok == "[":
            close = ")" if tok == "(" else "]"
            inner = self._until(close)
            if tok == "[" and any(t in _RELATIONS for t in inner):
                return Iverson(Parser(inner).chain())
            if tok == "(" and any(t in _RELATIONS and t != "=" for t in inner):
                return Condition(Parser(inner).chain())
            items = _split_top(inner, lambda ts, i: ts[i] == ",")
            if len(items) > 1:
                raise Unreadable(f"a tuple ({' '.join(inner)})")
            p = Parser(inner)
            node = p.expr()
            if p.peek() is not None:
                raise Unreadable(f"could not read ({' '.join(inner)})")
            return node
        if tok == "{":
            self.i -= 1
            return self.parse_group_expr()
        if tok in (r"\lVert", r"\|"):
            inner = self._until(r"\rVert" if tok == r"\lVert" else r"\|")
            node = Norm(Parser(inner).expr())
            if self.peek() == "_":
                self.next()
                node.p = "".join(self.group_tokens())
            return node
        if tok in ("|", r"\lvert"):
            inner = self._until("|" if tok == "|" else r"\rvert")
            return Abs(Parser(inner).expr())
        if tok in (r"\lfloor", r"\lceil"):
            inner = self._until(r"\rfloor" if tok == r"\lfloor" else r"\rceil")
            return Floor(Parser(inner).expr(), ceil=tok == r"\lceil")
        if tok in (r"\frac", r"\dfrac", r"\tfrac"):
            return self.fraction()
        if tok == r"\sqrt":
            if self.peek() == "[":
                self.next()
                n = Parser(self._until("]")).expr()
                return Power(self.parse_group_expr(), Bin("/", Num(1), n))
            return Apply("sqrt", [self.parse_group_expr()])
        if tok == r"\sum":
            return self.reduction("sum")
        if tok == r"\lim":
            if self.peek() != "_":
                raise Unreadable("a limit with no variable")
            self.next()
            sub = self.group_tokens()
            if r"\to" not in sub:
                raise Unreadable(f"the limit {' '.join(sub)}")
            k = sub.index(r"\to")
            var = Parser(sub[:k]).factor_no_call()
            return Limit(var, _parse_all(sub[k + 1:]), self.term())
        if tok == r"\Delta" and self.peek() is not None and (
                re.fullmatch(r"[A-Za-z]", self.peek()) or self.peek() in (r"\mathbf", r"\boldsymbol")):
            inner = self.atom()          # Delta x: the increment of x, one name
            if isinstance(inner, Sym):
                inner.base = "Delta" + inner.base
                return inner
            raise Unreadable("Delta before an expression")
        if tok in (r"\max", r"\min") and self.peek() == "_":
            return self.reduction(tok[1:])
        if tok == r"\operatorname":
            name = "".join(t for t in self.group_tokens() if t not in (r"\,", r"\;"))
            if name in ("argmax", "arg\\,max", "argmin"):
                return self.reduction(name.replace("\\,", ""))
            return self.function(name)
        if tok in _BUILTIN:
            return self.function(_BUILTIN[tok])
        if tok == r"\nabla":
            sub = None
            if self.peek() == "_":
                self.next()
                sub = Parser(self.group_tokens()).factor()
            arg = self.factor_no_call() if sub is None else self.factor()
            return Grad(sub, arg)
        if tok == r"\underbrace":
            arg = self.parse_group_expr()
            if self.peek() != "_":
                return arg
            self.next()
            shape = self.group_tokens()
            if any(t.startswith("TEXT:") and not _in_script(shape, k)
                   for k, t in enumerate(shape)):
                return Shaped(arg, None)           # a remark in words: "forward pass"
            if _is_name_annotation(shape):
                # \underbrace{-\sum_k p_k \log q_k}_{H(p, q)}: the braced part is H(p, q)
                return Named(arg, _parse_all(shape))
            return Shaped(arg, shape)
        if tok == r"\begin":
            env = "".join(self.group_tokens())
            return self.environment(env)
        if tok in (r"\mathbf", r"\boldsymbol", r"\bm", r"\vec"):
            inner = self.group_tokens()
            if inner == ["1"]:
                return Ones()
            if inner == ["0"]:
                return Zeros()
            node = Parser(inner).atom()
            if not isinstance(node, Sym):
                raise Unreadable(f"\\mathbf{{{' '.join(inner)}}}")
            return node
        if tok in (r"\hat", r"\tilde", r"\bar", r"\widehat", r"\widetilde"):
            inner = Parser(self.group_tokens())
            node = inner.atom()
            if not isinstance(node, Sym):
                raise Unreadable(f"{tok} of an expression")
            node.marks += {"hat": "_hat", "tilde": "_tilde", "bar": "_bar"}[tok[1:].replace("wide", "")]
            return node
        if tok in (r"\mathcal", r"\mathbb", r"\mathsf", r"\mathit"):
            letter = "".join(self.group_tokens())
            if tok == r"\mathcal":
                return Sym("Loss" if letter == "L" else f"cal_{letter}", tex=f"\\mathcal{{{letter}}}")
            if tok == r"\mathbb":
                if letter == "E":
                    return self.function("E")
                raise Unreadable(f"\\mathbb{{{letter}}} outside a membership")
            return Sym(letter)
        if tok == r"\ell":
            return Sym("loss", tex=r"\ell")
        if tok == r"\partial":
            raise Unreadable("a bare \\partial")
        if tok == r"\pi":
            return Sym("pi", tex=tok)      # the number pi, unless the test binds pi (a permutation)
        if tok.startswith("\\") and tok[1:] in GREEK:
            name = {"lambda": "lam", "eta": "lr"}.get(tok[1:], tok[1:])
            return Sym(name, tex=tok)
        if tok in (r"\infty",):
            return Num(math.inf)
        if tok in (r"\pi",):
            return Num(math.pi)
        if tok.startswith("TEXT:"):
            return Text(tok[5:])
        if tok == r"\{":
            items = _split_top(self._until(r"\}"), lambda ts, i: ts[i] == ",")
            return _set_literal(items)
        if re.fullmatch(r"[A-Za-z]", tok):
            if tok == "e" and self.peek() == "^":
                self.next()
                return Apply("exp", [self.parse_group_expr()])
            return Sym(tok, tex=tok)
        raise Unreadable(f"the construct {tok}")

    def factor_no_call(self) -> Node:
        node = self.atom()
        while self.peek() in ("_", "^"):
            node = self.postfix_one(node)
        return node

    def postfix_one(self, node: Node) -> Node:
        tok = self.next()
        if tok == "^":
            return self.superscript(node)
        sub = self.group_tokens()
        if isinstance(node, Sym) and node.sub is None:
            node.sub = sub
            return node
        return Index(node, sub)

    def function(self, name: str) -> Node:
        """A named function: its argument in parentheses, or the next factor."""
        fn: Node | str = name
        sym = Sym(name, tex=name)
        power = None
        while self.peek() in ("_", "^", "'"):
            tok = self.next()
            if tok == "_":
                sym.sub = self.group_tokens()
            elif tok == "'":
                sym.marks += "'"
            else:
                power = self.parse_group_expr()
        if sym.sub is not None or sym.marks:
            fn = sym
        if self.peek() == "(":
            node: Node = Apply(fn, self.paren_args())
        elif self.peek() == "[":
            self.next()
            inner = self._until("]")
            node = Apply(fn, [Parser(inner).expr()])
        elif not self.starts_factor(self.peek()):
            node = Apply(fn, [], paren=False)      # the function itself: g = \tanh
        else:
            node = Apply(fn, [self.factor()], paren=False)
        if power is not None:
            node = Power(node, power)
        return node

    def fraction(self) -> Node:
        if self.peek() is not None and re.fullmatch(r"\d\d", self.peek() or ""):
            digits = self.next()
            return Bin("/", Num(float(digits[0])), Num(float(digits[1])))
        num = self.group_tokens()
        den = self.group_tokens()
        is_d = num[:1] == [r"\partial"] or num[:1] == ["d"] and (len(num) == 1 or num[1] != "^")
        den_d = den[:1] == [r"\partial"] or (den[:1] == ["d"] and len(den) >= 2)
        if is_d and den_d:
            var = Parser(den[1:]).factor_no_call()
            tex = f"\\frac{{{' '.join(num)}}}{{{' '.join(den)}}}"
            if len(num) == 1:
                operand = self.factor()
                return Deriv(None, var, operand, tex)
            numtoks = num[1:]
            p = Parser(numtoks)
            top = p.factor_no_call() if numtoks[0] not in ("(",) else p.expr()
            if p.peek() is not None:
                p = Parser(numtoks)
                top = p.expr()
            return Deriv(top, var, None, tex)
        return Bin("/", _parse_all(num), _parse_all(den))

    def reduction(self, op: str) -> Node:
        var = lo = hi = cond = over = None
        if self.peek() == "_":
            self.next()
            sub = self.group_tokens()
            if "=" in sub and re.fullmatch(r"[a-z]", "".join(sub[:sub.index("=")])):
                k = sub.index("=")
                var = "".join(sub[:k])
                lo = _parse_all(sub[k + 1:])
            elif any(t in (r"\ne", r"\neq") for t in sub):
                k = next(j for j, t in enumerate(sub) if t in (r"\ne", r"\neq"))
                var = "".join(sub[:k])
                cond = ("!=", _parse_all(sub[k + 1:]))
            elif r"\in" in sub:
                k = sub.index(r"\in")
                var = "".join(sub[:k])
                over = _parse_all(sub[k + 1:])
            elif len(sub) == 1 and re.fullmatch(r"[a-z]", sub[0]):
                var = sub[0]
            else:
                var, cond = self._domain_variable(sub, op)
                over = DomainOf(var)
        if self.peek() == "^":
            self.next()
            hi = _parse_all(self.group_tokens())
        if var is None:
            raise Unreadable(f"{op} with no index")
        body = self.term()
        return Reduce(op, var, lo, hi, cond, body, over)

    def _domain_variable(self, sub: list[str], op: str):
        """max over the unit vectors u, min over eta: the variable and its condition."""
        try:
            chain = Parser(sub).chain()
        except Unreadable:
            raise Unreadable(f"the range {' '.join(sub)!r} of a {op}") from None
        names = {n.base + n.marks for part in chain.parts for n in _walk(part) if isinstance(n, Sym)}
        if len(names) != 1:
            raise Unreadable(f"the range {' '.join(sub)!r} of a {op}")
        return names.pop(), (chain if chain.rels else None)

    def environment(self, env: str) -> Node:
        depth, body = 0, []
        while True:
            tok = self.next()
            if tok == r"\begin":
                depth += 1
            elif tok == r"\end":
                if depth == 0:
                    self.group_tokens()
                    break
                depth -= 1
            body.append(tok)
        rows = _split_top(body, lambda ts, i: ts[i] == "\\\\")
        rows = [r for r in rows if r]
        if env == "cases":
            branches = []
            for row in rows:
                cells = _split_top(row, lambda ts, i: ts[i] == "&")
                if len(cells) != 2:
                    raise Unreadable("a cases row without exactly one '&'")
                p = Parser(cells[0])
                branch = p.chain()
                branches.append((branch.parts[0] if not branch.rels else branch, cells[1]))
            return Cases(branches, next(Parser._cases_counter))
        if env in ("bmatrix", "pmatrix", "matrix"):
            cells = [_split_top(row, lambda ts, i: ts[i] == "&") for row in rows]
            for row in cells:
                for c in row:
                    if any(t in (r"\vdots", r"\cdots", r"\ddots", r"\dots") for t in c):
                        raise Unreadable("a matrix with elided entries (\\vdots, \\cdots)")
            return Matrix([[_parse_all(c) for c in row] for row in cells])
        raise Unreadable(f"the environment {env}")


def _set_literal(items: list[list[str]]) -> SetLit:
    r"""A listed set; {f(a), \dots, f(b)} stands for f(a), f(a + 1), ..., f(b)."""
    dots = [k for k, it in enumerate(items) if it in ([r"\dots"], [r"\ldots"])]
    if not dots:
        return SetLit([Parser(it).expr() for it in items])
    if len(items) != 3 or dots != [1]:
        raise Unreadable("an elided set other than {first, \\dots, last}")
    first, last = items[0], items[2]
    pre = 0
    while pre < min(len(first), len(last)) and first[pre] == last[pre]:
        pre += 1
    post = 0
    while post < min(len(first), len(last)) - pre and first[-1 - post] == last[-1 - post]:
        post += 1
    template = first[:pre] + ["__HOLE__"] + first[len(first) - post:]
    a = _parse_all(first[pre:len(first) - post])
    b = _parse_all(last[pre:len(last) - post])
    return SetLit([], (template, a, b))


def _parse_all(toks: list[str]) -> Node:
    return _parse_cached(tuple(toks))


@cache
def _parse_cached(toks: tuple[str, ...]) -> Node:
    """Parsed once: evaluation reads subscripts and layers of the same tokens many times."""
    toks = list(toks)
    p = Parser(toks)
    node = p.expr()
    if p.peek() is not None:
        raise Unreadable(f"could not read {' '.join(toks)!r} from {' '.join(toks[p.i:])!r}")
    return node


def parse_statement(st: Statement) -> Chain:
    return Parser(st.tokens).chain()


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------

class Row:
    """A transposed column vector: a row. It never equals a column."""

    def __init__(self, v: np.ndarray):
        self.v = np.asarray(v, dtype=float)

    def __repr__(self) -> str:
        return f"Row({self.v!r})"


class OnesVec:
    """The vector of ones, as long as the product that uses it needs (or its transpose)."""

    def __init__(self, row: bool = False):
        self.row = row

    def __repr__(self) -> str:
        return "ones" + ("^T" if self.row else "")


def _is_fn(v) -> bool:
    return callable(v) and not isinstance(v, float | FnValue)


def _is_scalar(v) -> bool:
    return isinstance(v, int | float | complex | np.number | bool) or (
        isinstance(v, np.ndarray) and v.ndim == 0)


def _shape(v) -> tuple:
    if isinstance(v, Row):
        return (1, v.v.size)
    if isinstance(v, OnesVec):
        return ("ones",)
    return np.shape(v)


def _arr(v):
    if isinstance(v, Row):
        return v.v
    return v


def _power(base, exp):
    if not _is_scalar(exp):
        raise Mismatch("a power with a non-scalar exponent")
    if not _is_scalar(base) and not isinstance(base, RandomVar) and \
            np.ndim(_arr(base)) == 2 and exp not in (1, 2):
        raise Unreadable("a matrix power")
    if isinstance(base, RandomVar):
        return RandomVar(np.power(base.v, exp))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        return elementwise(lambda x: np.power(x, exp) if not _is_scalar(x) else x ** exp, base)


def _rv_op(op, a, b):
    av = a.v if isinstance(a, RandomVar) else a
    bv = b.v if isinstance(b, RandomVar) else b
    return RandomVar(op(av, bv))


def mul(a, b):
    if isinstance(a, RandomVar) or isinstance(b, RandomVar):
        return _rv_op(np.multiply, a, b)
    if isinstance(a, ScaledOnes) and not _is_scalar(b):
        return mul(a.c, mul(OnesVec(a.row), b))
    if isinstance(b, ScaledOnes) and not _is_scalar(a):
        return mul(mul(a, OnesVec(b.row)), b.c)
    if isinstance(a, ScaledOnes):
        return ScaledOnes(a.c * b, a.row)
    if isinstance(b, ScaledOnes):
        return ScaledOnes(a * b.c, b.row)
    if isinstance(a, Broadcast) and _is_scalar(b):
        return Broadcast(a.v * b, a.axis)
    if isinstance(b, Broadcast) and _is_scalar(a):
        return Broadcast(a * b.v, b.axis)
    if isinstance(a, OuterOnes) and _is_scalar(b):
        return OuterOnes(a.c * b)
    if isinstance(b, OuterOnes) and _is_scalar(a):
        return OuterOnes(a * b.c)
    if isinstance(a, OuterOnes):          # 1 1^T M: every row is the column sums of M
        b = np.asarray(_arr(b))
        if b.ndim != 2:
            raise Mismatch("1 1^T before a value that is not a matrix")
        return Broadcast(a.c * b.sum(axis=0), 0)
    if isinstance(b, OuterOnes):          # M 1 1^T: every column is the row sums of M
        a = np.asarray(_arr(a))
        if a.ndim != 2:
            raise Mismatch("1 1^T after a value that is not a matrix")
        return Broadcast(b.c * a.sum(axis=1), 1)
    if isinstance(a, Broadcast) or isinstance(b, Broadcast):
        raise Mismatch("a product with a broadcast vector (1 b^T or v 1^T)")
    if isinstance(a, OnesVec) or isinstance(b, OnesVec):
        return _mul_ones(a, b)
    if _is_scalar(a) or _is_scalar(b):
        if isinstance(a, Row):
            return Row(a.v * b)
        if isinstance(b, Row):
            return Row(a * b.v)
        return a * b
    if isinstance(a, Row):
        if isinstance(b, Row):
            raise Mismatch("a row times a row")
        b = np.asarray(b)
        if b.ndim == 1:
            return float(a.v @ b) if a.v.size == b.size else _bad(a, b)
        return Row(a.v @ b) if a.v.size == b.shape[0] else _bad(a, b)
    a = np.asarray(a)
    if isinstance(b, Row):
        if a.ndim == 1:
            return np.outer(a, b.v)
        raise Mismatch(f"a matrix {a.shape} times a row")
    b = np.asarray(b)
    if a.ndim == 2 and b.ndim in (1, 2):
        if a.shape[1] != b.shape[0]:
            _bad(a, b)
        return a @ b
    if a.ndim == 1 and b.ndim >= 1:
        raise Mismatch(f"a column of {a.shape[0]} written before a {b.ndim}-D value "
                       f"{b.shape}: a missing transpose?")
    raise Mismatch(f"cannot multiply shapes {a.shape} and {b.shape}")


def _bad(a, b):
    raise Mismatch(f"shapes {_shape(a)} and {_shape(b)} do not multiply")


def _mul_ones(a, b):
    if isinstance(a, OnesVec) and isinstance(b, OnesVec):
        if not a.row and b.row:
            return OuterOnes(1.0)
        raise Mismatch("ones times ones")
    if isinstance(a, OnesVec):
        if _is_scalar(b):
            return ScaledOnes(b, a.row)
        if a.row:                       # 1^T v = sum(v); 1^T M = column sums (a row)
            if isinstance(b, Row):
                raise Mismatch("1^T times a row")
            b = np.asarray(b)
            return float(b.sum()) if b.ndim == 1 else Row(b.sum(axis=0))
        if isinstance(b, Row):           # 1 b^T: b broadcast down the rows
            return Broadcast(b.v, 0)
        raise Mismatch("a column of ones before a column or a matrix")
    # b is ones
    if _is_scalar(a):
        return ScaledOnes(a, b.row)
    if b.row:
        if isinstance(a, Row):
            raise Mismatch("a row times 1^T")
        a = np.asarray(a)
        if a.ndim == 1:                 # v 1^T: v broadcast along the columns
            return Broadcast(a, 1)
        raise Mismatch("a matrix times 1^T")
    if isinstance(a, Row):
        return float(a.v.sum())
    a = np.asarray(a)
    if a.ndim == 2:
        return a.sum(axis=1)
    raise Mismatch("a column times a column of ones")


class ScaledOnes:
    def __init__(self, c, row=False):
        self.c, self.row = c, row


class Broadcast:
    """1 b^T (axis 0: the row b repeated down the rows) or v 1^T (axis 1: the column v
    repeated across the columns), as many as the value it meets needs."""

    def __init__(self, v, axis=0):
        self.v = np.asarray(v, dtype=float)
        self.axis = axis


class OuterOnes:
    """c 1 1^T, a matrix of c's as large as needed."""

    def __init__(self, c):
        self.c = c


def _densify(v, like):
    """Turn lazy ones into an array shaped like `like` for elementwise operations."""
    if isinstance(v, OnesVec):
        return 1.0 if not isinstance(like, Row) else Row(np.ones_like(like.v))
    if isinstance(v, ScaledOnes):
        return v.c if not isinstance(like, Row) else Row(np.full_like(like.v, v.c))
    if isinstance(v, Broadcast):
        like_a = _arr(like)
        if np.ndim(like_a) != 2 or like_a.shape[1 - v.axis] != v.v.size:
            raise Mismatch(f"a broadcast vector of {v.v.size} against a value of shape "
                           f"{np.shape(like_a)}")
        return np.broadcast_to(v.v if v.axis == 0 else v.v[:, None], like_a.shape)
    if isinstance(v, OuterOnes):
        return np.full(np.shape(_arr(like)), v.c) if not _is_scalar(like) else v.c
    return v


def add(a, b, sign=1.0):
    if isinstance(a, RandomVar) or isinstance(b, RandomVar):
        return _rv_op(lambda x, y: x + sign * y, a, b)
    lazy = (OnesVec, ScaledOnes, Broadcast, OuterOnes)
    if isinstance(a, lazy) and isinstance(b, lazy):
        if isinstance(a, ScaledOnes | OnesVec) and isinstance(b, ScaledOnes | OnesVec):
            ca = a.c if isinstance(a, ScaledOnes) else 1.0
            cb = b.c if isinstance(b, ScaledOnes) else 1.0
            return ScaledOnes(ca + sign * cb)
        raise Mismatch("adding two broadcast values")
    if isinstance(a, lazy):
        a = _densify(a, b)
    if isinstance(b, lazy):
        b = _densify(b, a)
    if isinstance(a, Row) or isinstance(b, Row):
        if isinstance(a, Row) and isinstance(b, Row):
            return Row(a.v + sign * b.v)
        if _is_scalar(a):
            return Row(a + sign * b.v)
        if _is_scalar(b):
            return Row(a.v + sign * b)
        raise Mismatch(f"adding a row and a column or matrix: {_shape(a)} and {_shape(b)}")
    if not (_is_scalar(a) or _is_scalar(b)) and np.shape(a) != np.shape(b):
        raise Mismatch(f"adding shapes {np.shape(a)} and {np.shape(b)}")
    return a + sign * b


def elementwise(fn, *vals):
    if any(isinstance(v, Row) for v in vals):
        return Row(fn(*[_arr(v) for v in vals]))
    return fn(*vals)


def transpose(v):
    if isinstance(v, Row):
        return v.v
    if isinstance(v, OnesVec):
        return OnesVec(not v.row)
    if _is_scalar(v):
        return v
    v = np.asarray(v)
    if v.ndim == 1:
        return Row(v)
    return v.T


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------

_NUMPY_FUNCS: dict[str, Callable] = {
    "log": np.log, "exp": np.exp, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "tanh": np.tanh, "cosh": np.cosh, "sinh": np.sinh, "sqrt": np.sqrt, "sign": np.sign,
    "erf": np.vectorize(math.erf, otypes=[float]), "diag": np.diag, "tr": np.trace,
    "Im": np.imag, "Re": np.real, "factorial": lambda v: math.gamma(float(v) + 1.0),
}


class Evaluator:
    def __init__(self, env: dict, ranges: dict[str, object], taken: dict):
        self.env = env
        self.ranges = ranges
        self.taken = taken     # cases uid -> set of branches taken
        self.approx = False

    # names -----------------------------------------------------------------------
    def sub_text(self, toks: list[str]) -> str:
        out = []
        bound = set(self.env.get("__bound__", ()))
        for t in toks:
            if t in bound and _is_scalar(self.env.get(t)):
                out.append(str(int(self.env[t])))      # B_k with k = 2: B_2
            elif t.startswith("TEXT:"):
                out.append(t[5:].strip().replace(" ", "_"))
            elif t.startswith("\\"):
                name = t[1:]
                if name in ("mathbf", "boldsymbol", "bm"):
                    continue
                out.append({"lambda": "lam", "mathcal": "cal_", "ast": "*", "eta": "lr"}.get(name, name))
            elif t in ("{", "}", " "):
                continue
            else:
                out.append(t)
        return "".join(out)

    def layer_value(self, toks: list[str]) -> str:
        try:
            v = self.value(_parse_all(toks))
        except FreeIndex:
            raise
        except (Unreadable, KeyError):
            return "(" + self.sub_text(toks) + ")"
        return str(int(v)) if float(v).is_integer() else str(v)

    def _evaluated_literal(self, sym: Sym) -> str | None:
        """n_{l-1} with l = 3: the name n_2, when the test binds it."""
        try:
            v = self.value(_parse_all(sym.sub))
        except (Unreadable, Unbound, KeyError, FreeIndex, Mismatch, TypeError):
            return None
        if not _is_scalar(v) or not float(v).is_integer():
            return None
        name = (sym.base if sym.layer is None else sym.base + self.layer_value(sym.layer))
        key = f"{name}_{int(v)}{sym.marks}"
        return key if key in self.env else None

    def full_name(self, sym: Sym) -> str:
        """The name with its subscript as part of it: eta_best, beta_1, GELU_tanh'."""
        name = sym.base if sym.layer is None else sym.base + self.layer_value(sym.layer)
        if sym.sub is not None:
            name += "_" + self.sub_text(sym.sub)
        return name + sym.marks

    def base_name(self, sym: Sym) -> str:
        name = sym.base + sym.marks
        if sym.layer is not None:
            name = sym.base + self.layer_value(sym.layer) + sym.marks
        return name

    def index_values(self, toks: list[str]) -> list[int] | None:
        """Read a subscript as indices (0-based), or None if it is a name part.

        Indices separated by commas (A_{i,c,s(p-1)+u}) are read one by one, and each may be
        an expression in bound indices and named sizes (w_{\\text{ker}} + 1 - u); so is a
        single index written as a sum or difference (a_{p+u-1}). A name given literally
        (x_{t+1} bound as "x_t+1") is found before this is called.
        """
        if any(t in (r"\max", r"\min", r"\mathcal") for t in toks):
            return None
        if len(_split_top(toks, lambda ts, i: ts[i] == ",")) == 1 and \
                len(_split_top(toks[1:], lambda ts, i: ts[i] in ("+", "-"))) == 1 and \
                any(t.startswith("TEXT:") for t in toks):
            return None               # eta_{\text{best}}: a name part
        atoms = _index_atoms(toks)
        out = []
        for atom in atoms:
            if len(atom) == 1 and re.fullmatch(r"\d+", atom[0]):
                out.append(int(atom[0]) - 1)
                continue
            if len(atom) == 1 and re.fullmatch(r"[a-zA-Z]", atom[0]):
                name = atom[0]
                if name in self.env and _is_scalar(self.env[name]) and name in self.index_names():
                    out.append(int(self.env[name]) - 1)     # 1-based on the page
                    continue
                if name in self.ranges:
                    raise FreeIndex(name)
                value = self.env.get(name)
                if _is_scalar(value) and float(value).is_integer():
                    out.append(int(value) - 1)  # f_y: indexed by the label's value
                    continue
                return None
            if atom[0] in ("+", "-") or any(t in ("+", "-") for t in atom):
                # t+1, (k - 1): an expression in bound indices
                try:
                    v = self.value(_parse_all(atom))
                except (Unreadable, KeyError):
                    return None
                out.append(int(v) - 1)
                continue
            # y_i, k^\ast: a value used as an index, 1-based like every index on the page
            try:
                v = self.value(_parse_all(atom))
            except (Unreadable, KeyError, Unbound):
                return None
            if not _is_scalar(v) or float(v) != int(v):
                return None
            out.append(int(v) - 1)
        return out

    def index_names(self) -> set[str]:
        return set(self.ranges) | set(self.env.get("__bound__", ()))

    def lookup(self, sym: Sym):
        value = self._lookup(sym)
        if isinstance(value, Dyn):
            try:
                return value.fn(self.env)
            except KeyError as err:
                missing = err.args[0] if err.args else None
                if missing in self.ranges:
                    raise FreeIndex(missing) from None   # w before batch k: k runs first
                raise
        return value

    def _lookup(self, sym: Sym):
        env = self.env
        name = self.base_name(sym)
        if sym.sub is None:
            if name in env:
                return env[name]
            if name in self.index_names():
                raise FreeIndex(name)
            if name == "pi":
                return math.pi
            raise KeyError(name)
        literal = self.full_name(sym)
        if literal in env:
            return env[literal]
        evaluated = self._evaluated_literal(sym)
        if evaluated is not None:
            return env[evaluated]
        idx = self.index_values(sym.sub)
        if idx is None:
            raise KeyError(literal)
        # the letter itself, else its other case (x_ij reads X): the one that has as many
        # axes as the subscript has indices wins, for y_i (labels) against y_ik (Y, one-hot)
        other = (name[0].lower() if name[0].isupper() else name[0].upper()) + name[1:]
        candidates = [n for n in (name, other) if n in env]
        for n in candidates:
            v = env[n]
            if callable(v) or isinstance(v, Dyn | RandomVar | FnValue) or \
                    np.ndim(_arr(v)) >= len(idx):
                return self._take(v.fn(self.env) if isinstance(v, Dyn) else v, idx, n)
        if name == "delta" and len(idx) == 2:       # Kronecker delta
            return float(idx[0] == idx[1])
        raise KeyError(f"{name} (indexed by {sym.sub})")

    def _take(self, v, idx, name):
        if isinstance(v, RandomVar):
            return v[tuple(idx)]
        if isinstance(v, FnValue):
            return IndexedValue(float(np.asarray(v.value)[tuple(idx)]), v.fn, idx)
        if callable(v):
            return IndexedFn(v, idx)
        v = _arr(v)
        try:
            out = np.asarray(v)[tuple(idx)]
        except IndexError as err:
            raise Mismatch(f"{name}{idx}: {err}") from None
        return float(out) if np.ndim(out) == 0 else out

    # evaluation ------------------------------------------------------------------
    def value(self, node: Node):
        method = getattr(self, "v_" + type(node).__name__)
        return method(node)

    def v_Num(self, n: Num):
        return n.value

    def v_Sym(self, s: Sym):
        try:
            return self.lookup(s)
        except KeyError as err:
            raise Unbound(str(err).strip("'")) from None

    def v_Ones(self, n):
        return OnesVec()

    def v_Zeros(self, n):
        return 0.0

    def v_Text(self, n):
        raise Unreadable(f"text in a formula: {n.text!r}")

    def v_Unary(self, n: Unary):
        v = self.value(n.arg)
        if isinstance(v, Row):
            return Row(-v.v)
        if isinstance(v, ScaledOnes):
            return ScaledOnes(-v.c, v.row)
        if isinstance(v, OnesVec):
            return ScaledOnes(-1.0, v.row)
        return -v

    def v_Bin(self, n: Bin):
        a = self.value(n.left)
        if n.op == "*" and _is_fn(a) and not isinstance(n.right, Num):
            # f (x) written without parentheses: \log a, handled by Apply; here a value
            return self.call(a, [n.right])
        b = self.value(n.right)
        a = a.value if isinstance(a, FnValue) else a
        b = b.value if isinstance(b, FnValue) else b
        if n.op == "+":
            return add(a, b)
        if n.op == "-":
            return add(a, b, -1.0)
        if n.op == "*":
            return mul(a, b)
        if n.op == "odot":
            a, b = _densify(a, b), _densify(b, a)
            if not (_is_scalar(a) or _is_scalar(b)) and _shape(a) != _shape(b):
                raise Mismatch(f"elementwise product of shapes {_shape(a)} and {_shape(b)}")
            return elementwise(np.multiply, a, b)
        if n.op == "/":
            if isinstance(b, Row | OnesVec) or (not _is_scalar(b) and not _is_scalar(a)
                                                and _shape(a) != _shape(b)):
                raise Mismatch(f"dividing shapes {_shape(a)} by {_shape(b)}")
            with np.errstate(divide="raise", invalid="raise"):
                return elementwise(np.divide, a, b)
        raise Unreadable(n.op)

    def v_Power(self, n: Power):
        return _power(self.value(n.base), self.value(n.exp))

    def v_Transpose(self, n: Transpose):
        return transpose(self.value(n.arg))

    def v_Index(self, n: Index):
        v = self.value(n.arg)
        idx = self.index_values(n.idx)
        if idx is None:
            raise Unreadable(f"the subscript {' '.join(n.idx)} of an expression")
        return self._take(v, idx, "(...)")

    def v_Apply(self, n: Apply):
        if n.power is None:
            return self._apply(n)
        exp = self.value(n.power)
        fn = n.fn
        target = None
        if isinstance(fn, Sym):
            try:
                target = self._fn_or_value(fn)
            except Unbound:
                target = None
        if target is not None and not _is_fn(target) and n.paren and len(n.args) == 1:
            # b (y - x^2)^2: the value times the squared parenthesis
            return mul(target, _power(self.value(n.args[0]), exp))
        return _power(self._apply(n), exp)

    def _apply(self, n: Apply):
        fn = n.fn
        if isinstance(fn, str) and not n.args:
            if fn in self.env and callable(self.env[fn]):
                return self.env[fn]
            if fn in _NUMPY_FUNCS:
                return _NUMPY_FUNCS[fn]
            raise Unbound(fn)
        if isinstance(fn, str):
            if fn in ("max", "min") and len(n.args) >= 2:
                vals = [self.value(a) for a in n.args]
                out = vals[0]
                for v in vals[1:]:
                    out = elementwise(np.maximum if fn == "max" else np.minimum, out, v)
                return out
            if fn == "clip":
                x, lo, hi = (self.value(a) for a in n.args)
                return elementwise(lambda v: np.clip(v, lo, hi), x)
            if fn in self.env and callable(self.env[fn]):
                return self.call(self.env[fn], n.args)
            if fn in _NUMPY_FUNCS:
                if len(n.args) != 1:
                    raise Unreadable(f"{fn} with {len(n.args)} arguments")
                v = self.value(n.args[0])
                v = v.value if isinstance(v, FnValue) else v
                with np.errstate(all="raise"):
                    return elementwise(_NUMPY_FUNCS[fn], v)
            raise Unbound(f"{fn} (a function: bind it to the code's function)")
        target = self.value(fn) if not isinstance(fn, Sym) else self._fn_or_value(fn)
        if isinstance(target, IndexedValue | FnValue) and not all(
                isinstance(a, Sym) and a.sub is None for a in n.args):
            # f_y (1 - f_c): a value written before parentheses, not f_y(x)
            value = target.value if isinstance(target, FnValue) else float(target)
            return mul(value, self.value(n.args[0]))
        if callable(target):
            return self.call(target, n.args)
        if not n.paren:
            raise Unreadable("a value applied without parentheses")
        if all(isinstance(a, Sym) for a in n.args) and (len(n.args) > 1 or _is_scalar(target)
                                                        and isinstance(fn, Sym) and fn.base == "Loss"):
            # L(w, b): a bound value written with the variables it depends on
            return target
        if len(n.args) != 1:
            raise Unreadable(f"{self._name(fn)}(...) with {len(n.args)} arguments, but "
                             f"{self._name(fn)} is bound to a value, not a function")
        return mul(target, self.value(n.args[0]))

    def _name(self, fn) -> str:
        return fn.base if isinstance(fn, Sym) else type(fn).__name__

    def _fn_or_value(self, sym: Sym):
        try:
            return self.lookup(sym)
        except KeyError:
            pass
        if sym.base in _NUMPY_FUNCS and sym.sub is None and not sym.marks:
            return _NUMPY_FUNCS[sym.base]
        raise Unbound(self.full_name(sym))

    def call(self, fn, args: list[Node]):
        if isinstance(fn, LazyFn):
            return fn.fn(self, *args)
        if any(isinstance(a, Chain) for a in args):
            raise Unreadable("an event as the argument of a function that is not lazy")
        vals = [self.value(a) for a in args]
        vals = [v.value if isinstance(v, FnValue) else v for v in vals]
        if isinstance(fn, EnvFn):
            return fn.fn(self.env, *vals)
        vals = [_arr(v) if isinstance(v, Row) else v for v in vals]
        out = fn(*vals)
        return out

    def v_Reduce(self, n: Reduce):
        if n.op in ("argmax", "argmin"):
            vals = self._reduce_values(n)
            keys = [k for k, _ in vals]
            nums = [float(v) for _, v in vals]
            best = int(np.argmax(nums) if n.op == "argmax" else np.argmin(nums))
            return keys[best]
        vals = [v for _, v in self._reduce_values(n)]
        if n.op == "sum":
            out = vals[0]
            for v in vals[1:]:
                out = add(out, v)
            return out
        stack = np.stack([np.asarray(_arr(v), dtype=float) for v in vals])
        return float(stack.max()) if n.op == "max" else float(stack.min())

    def _reduce_values(self, n: Reduce):
        var = n.var
        if isinstance(n.over, DomainOf):
            domains = self.env.get("__domain__", {})
            if var not in domains:
                raise Unbound(f"__domain__[{var!r}] (the candidates of a {n.op} over {var})")
            domain = list(domains[var])
            if isinstance(n.cond, Chain):
                keep = []
                for d in domain:
                    saved = self.env.get(var, _MISSING)
                    self.env[var] = d
                    try:
                        if all(self.relation_holds(n.cond)):
                            keep.append(d)
                    finally:
                        if saved is _MISSING:
                            self.env.pop(var, None)
                        else:
                            self.env[var] = saved
                domain = keep
            return self._over(n, var, domain)
        if n.over is not None:
            domain = list(self.value(n.over))
        else:
            lo = int(self.value(n.lo)) if n.lo is not None else 1
            if n.hi is not None:
                hi = int(self.value(n.hi))
            elif var in self.ranges:
                hi = int(self._range(var))
            else:
                raise Unreadable(f"the range of the index {var} (give it bounds)")
            domain = list(range(lo, hi + 1))     # page values: 1, ..., hi
        if n.cond is not None:
            partner = n.cond[1]
            if isinstance(partner, Sym) and partner.sub is None and partner.base in self.ranges \
                    and partner.base not in self.env and n.op == "sum":
                # sum over i != j with neither bound: every ordered pair of distinct indices
                inner = Reduce("sum", partner.base, None, None, ("!=", Sym(var)), n.body)
                outer = Reduce("sum", var, n.lo, n.hi, None, inner, n.over)
                return self._reduce_values(outer)
            other = self.value(partner)
            domain = [d for d in domain if d != int(other)]
        return self._over(n, var, domain)

    def _over(self, n: Reduce, var: str, domain: list):
        if not domain:
            raise Mismatch(f"an empty {n.op} over {var}")
        out = []
        saved = self.env.get(var, _MISSING)
        bound = self.env.get("__bound__", ())
        self.env["__bound__"] = (*bound, var)
        try:
            for d in domain:
                self.env[var] = d
                out.append((d, self.value(n.body)))
        finally:
            self.env["__bound__"] = bound
            if saved is _MISSING:
                self.env.pop(var, None)
            else:
                self.env[var] = saved
        return out

    def _range(self, var):
        r = self.ranges[var]
        if callable(r):
            r = r(self.env)
        if isinstance(r, tuple):
            raise Unreadable(f"a sum over {var} without bounds, where {var} starts at {r[0]}")
        return self.env[r] if isinstance(r, str) else r

    def v_Limit(self, n: Limit):
        """The limit from each side, by Richardson extrapolation of two small steps; the two
        sides must agree, or the limit does not exist and the formula is wrong."""
        if not isinstance(n.var, Sym):
            raise Unreadable("a limit in something other than a variable")
        name = self.base_name(n.var)
        a = float(self.value(n.to))
        h = 1e-4 * max(1.0, abs(a))
        saved = self.env.get(name, _MISSING)
        sides = []
        try:
            for s in (+1.0, -1.0):
                vals = []
                for step in (h, h / 2):
                    self.env[name] = a + s * step
                    vals.append(np.asarray(_arr(self.value(n.body)), dtype=float))
                sides.append(2.0 * vals[1] - vals[0])      # removes the error linear in h
        finally:
            if saved is _MISSING:
                self.env.pop(name, None)
            else:
                self.env[name] = saved
        if not np.allclose(sides[0], sides[1], rtol=FD_RTOL, atol=FD_ATOL):
            raise Mismatch(f"the limit differs from the two sides: {sides[0]} and {sides[1]}")
        self.approx = True
        out = (sides[0] + sides[1]) / 2.0
        return float(out) if out.ndim == 0 else out

    def v_Norm(self, n: Norm):
        v = np.asarray(_arr(self.value(n.arg)), dtype=float)
        if n.p in ("2", "", "F"):
            return float(np.sqrt(np.sum(v * v)))
        if n.p == "1":
            return float(np.sum(np.abs(v)))
        raise Unreadable(f"the norm with subscript {n.p}")

    def v_Abs(self, n: Abs):
        return elementwise(np.abs, self.value(n.arg))

    def v_Floor(self, n: Floor):
        return elementwise(np.ceil if n.ceil else np.floor, self.value(n.arg))

    def v_Iverson(self, n: Iverson):
        return float(all(self.relation_holds(n.chain)))

    def v_Condition(self, n: Condition):
        if not all(self.relation_holds(n.chain)):
            raise SkipPoint()       # the statement does not apply at this point
        return 1.0

    def relation_holds(self, chain: Chain) -> list[bool]:
        vals = [self.value(p) for p in chain.parts]
        out = []
        for rel, a, b in zip(chain.rels, vals[:-1], vals[1:], strict=True):
            a, b = _arr(a), _arr(b)
            if rel == "=":
                out.append(bool(np.all(np.isclose(a, b, rtol=EXACT_RTOL, atol=EXACT_ATOL))))
            elif rel == "!=":
                out.append(bool(np.all(a != b)))
            elif rel == "in":
                out.append(bool(np.all(np.isin(a, np.asarray(b)))))
            else:
                op = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
                if rel not in op:
                    raise Unreadable(f"the relation {rel} in a condition")
                out.append(bool(np.all(op[rel](a, b))))
        return out

    def v_Cases(self, n: Cases):
        chosen = []
        for k, (_, cond) in enumerate(n.branches):
            if self.condition(cond):
                chosen.append(k)
        if len(chosen) != 1:
            raise Mismatch(f"{len(chosen)} branches of a cases block hold at one point "
                           f"(branches {chosen})")
        self.taken.setdefault(n.uid, set()).add(chosen[0])
        value = n.branches[chosen[0]][0]
        if isinstance(value, Chain):
            vals = [self.value(p) for p in value.parts]
            for k, (rel, a, b) in enumerate(zip(value.rels, vals[:-1], vals[1:], strict=True)):
                if rel != "=":
                    raise Unreadable(f"the relation {rel} inside a cases branch")
                _assert_equal(a, b, EXACT_RTOL, EXACT_ATOL, k)
            return vals[-1]
        return self.value(value)

    def condition(self, toks: list[str]) -> bool:
        toks = _without_remarks(toks)
        # "\text{ and }" joins conditions
        parts = _split_top(toks, lambda ts, i: ts[i].startswith("TEXT:") and
                           ts[i][5:].strip() == "and")
        ok = True
        for part in parts:
            part = [t for t in part if t not in (r"\quad", r"\qquad")]
            if len(part) == 1 and part[0].startswith("TEXT:"):
                label = part[0][5:].strip()
                if "__case__" not in self.env:
                    raise Unbound(f"__case__ (the label of the branch: {label!r})")
                ok &= self.env["__case__"] == label
                continue
            if any(t.startswith("TEXT:") and not _in_script(part, k) for k, t in enumerate(part)):
                raise Unreadable(f"prose in a condition: {' '.join(part)}")
            chain = Parser(part).chain()
            ok &= all(self.relation_holds(chain))
        return ok

    def v_Matrix(self, n: Matrix):
        rows = [[float(self.value(c)) for c in row] for row in n.rows]
        arr = np.array(rows)
        if arr.shape[1] == 1:
            return arr[:, 0]
        return arr

    def v_Named(self, n: Named):
        v = self.value(n.arg)
        _assert_equal(v, self.value(n.name), EXACT_RTOL, EXACT_ATOL, 0)
        return v

    def v_Shaped(self, n: Shaped):
        v = self.value(n.arg)
        if n.shape is not None:
            self.assert_shape(v, _split_top(n.shape, lambda ts, i: ts[i] == r"\times"), n)
        return v

    def assert_shape(self, v, dims: list[list[str]], where) -> None:
        if isinstance(v, OnesVec | ScaledOnes):
            return
        sizes = [int(self.value(_parse_all(d))) for d in dims]
        got = _shape(_arr(v) if not isinstance(v, Row) else v)
        ok = tuple(sizes) == tuple(got) or (sizes == [1] and got == ()) or \
            (len(sizes) == 2 and sizes[0] == 1 and isinstance(v, Row) and got == (1, sizes[1]))
        if not ok:
            raise Mismatch(f"the shape written is {' x '.join(map(str, sizes))}, the value's "
                           f"shape is {got}")

    def v_Reals(self, n):
        raise Unreadable("a space outside a membership")

    def v_SetLit(self, n: SetLit):
        if n.elided is None:
            return [self.value(i) for i in n.items]
        template, a, b = n.elided
        lo, hi = self.value(a), self.value(b)
        if not (float(lo).is_integer() and float(hi).is_integer()):
            raise Mismatch(f"an elided set from {lo} to {hi}, not whole numbers")
        out = []
        for v in range(int(lo), int(hi) + 1):
            toks = [t for piece in template for t in (["(", str(v), ")"] if piece == "__HOLE__"
                                                       else [piece])]
            out.append(self.value(_parse_all(toks)))
        return out

    def v_Grad(self, n: Grad):
        if n.sub is None:
            # \nabla f(x): the function named grad f, applied by the caller
            name = "grad_" + self._plain_name(n.arg)
            if isinstance(n.arg, Apply):
                fn = self.env.get("grad_" + self._plain_name(n.arg.fn))
                if fn is None:
                    raise Unbound("grad_" + self._plain_name(n.arg.fn))
                return self.call(fn, n.arg.args)
            if name in self.env:
                value = self.env[name]
                return value.fn(self.env) if isinstance(value, Dyn) else value
            raise Unbound(name)
        return self.derivative_atom(n.arg, n.sub)

    def _plain_name(self, node) -> str:
        if isinstance(node, Sym):
            return self.full_name(node)
        if isinstance(node, str):
            return node
        raise Unreadable("\\nabla of an expression")

    def v_Deriv(self, n: Deriv):
        if n.num is None:
            return self.numeric_derivative(n.operand, n.den)
        if isinstance(n.num, Sym):
            return self.derivative_atom(n.num, n.den)
        return self.numeric_derivative(n.num, n.den)

    def derivative_atom(self, num: Node, den: Node):
        if not isinstance(num, Sym):
            return self.numeric_derivative(num, den)
        num_name, num_idx, num_tags = self._name_and_index(num)
        den_name, den_idx, den_tags = self._name_and_index(den)
        if num_tags and set(num_tags) <= set(den_tags):
            # dl_i / dz_ij: one derivative per entry of z, laid out like z (den order), so
            # dl_i / dz_ji reads the entry [j, i], a different number
            idx = list(den_idx)
        else:
            # dy_k / dx_j: a Jacobian, outputs first; shared indices only once
            idx = list(num_idx) + [d for tag, d in zip(den_tags, den_idx, strict=True)
                                   if tag not in num_tags]
        keys = [f"d{num_name}/d{den_name}"]
        if num_name == "Loss":
            keys.append(f"d{den_name}")
        for key in keys:
            if key in self.env:
                v = self.env[key]
                v = v.fn(self.env) if isinstance(v, Dyn) else v
                return self._take(v, idx, key) if idx else v
        if den_idx and len(den_name) == 1 and den_name.islower() and len(den_idx) == 2:
            # z_ik reads Z[i, k], so its derivative reads the gradient of Z
            for upper in (f"d{num_name}/d{den_name.upper()}",
                          f"d{den_name.upper()}" if num_name == "Loss" else None):
                if upper in self.env:
                    return self._take(self.env[upper], idx, upper)
        raise Unbound(keys[0] + (f" indexed {idx}" if idx else ""))

    def _name_and_index(self, node: Node) -> tuple[str, list[int], list[str]]:
        """Name, index values and index spellings of a derivative's numerator or denominator."""
        if isinstance(node, Sym):
            name = self.base_name(node)
            if node.sub is None:
                return name, [], []
            idx = self.index_values(node.sub)
            if idx is None or (len(node.sub) == 1 and re.fullmatch(r"\d+", node.sub[0])):
                return self.full_name(node), [], []
            return name, idx, _index_spellings(node.sub)
        if isinstance(node, Apply) and node.fn == "log" and len(node.args) == 1:
            inner, idx, tags = self._name_and_index(node.args[0])
            return f"log{inner}", idx, tags
        if isinstance(node, Transpose | Shaped):
            raise Unreadable("a derivative with respect to a transposed value")
        raise Unreadable("a derivative with respect to an expression")

    def numeric_derivative(self, expr: Node, var: Node):
        """Differentiate expr with respect to a bound variable by central differences."""
        if not isinstance(var, Sym):
            raise Unreadable("a derivative with respect to an expression")
        name = self.base_name(var)
        entry: tuple | None = None
        if var.sub is not None:
            idx = self.index_values(var.sub)
            if idx is None:
                name = f"{name}_{self.sub_text(var.sub)}"
            else:
                if name not in self.env:
                    for cand in (name.upper(), name.lower()):
                        if cand in self.env:
                            name = cand
                            break
                entry = tuple(idx)
        if name not in self.env:
            raise Unbound(name)
        x0 = self.env[name]
        base = np.array(_arr(x0), dtype=float)
        positions = [entry] if entry is not None else list(np.ndindex(base.shape)) or [()]
        outs = []
        for pos in positions:
            h = FD_STEP * max(1.0, abs(float(base[pos] if base.ndim else base)))
            vals = []
            for s in (+1, -1):
                x = base.copy()
                if x.ndim:
                    x[pos] += s * h
                else:
                    x = x + s * h
                self.env[name] = float(x) if x.ndim == 0 else x
                try:
                    vals.append(np.asarray(_arr(self.value(expr)), dtype=float))
                finally:
                    self.env[name] = x0
            outs.append((vals[0] - vals[1]) / (2 * h))
        self.approx = True
        if entry is not None or base.ndim == 0:
            out = outs[0]
            return float(out) if np.ndim(out) == 0 else out
        first = outs[0]
        if np.ndim(first) == 0:                       # gradient: the shape of the variable
            return np.array([float(o) for o in outs]).reshape(base.shape)
        return np.stack(outs, axis=-1)                # Jacobian: outputs x inputs


def _is_name_annotation(toks: list[str]) -> bool:
    """H(p, q) under a brace names the part; m, n_l, (n + 1) \times (n + 1) give a shape."""
    return any(re.fullmatch(r"[A-Za-z]", a) and b == "(" for a, b in zip(toks[:-1], toks[1:], strict=True))


def _without_remarks(toks: list[str]) -> list[str]:
    """A cases condition without its remark in parentheses: "(0 at y z = 1 is a subgradient)"."""
    out, inside = [], False
    for t in toks:
        text = t[5:].strip() if t.startswith("TEXT:") else None
        if text is not None and text.startswith("("):
            inside = True
        if not inside and t not in (r"\quad", r"\qquad"):
            out.append(t)
        if inside and text is not None and text.endswith(")"):
            inside = False
    return out


def _top_relation(toks: list[str]) -> bool:
    """Is there a relation outside every bracket ([k = j] does not count)?"""
    depth = 0
    for t in toks:
        if t in _OPEN or t == r"\begin":
            depth += 1
        elif t in _CLOSE or t == r"\end":
            depth -= 1
        elif depth == 0 and t in _RELATIONS:
            return True
    return False


def _in_script(toks: list[str], k: int) -> bool:
    """Is toks[k] inside a subscript or superscript group, as in T_{\text{w}}?"""
    depth = 0
    for j in range(k - 1, -1, -1):
        if toks[j] == "}":
            depth += 1
        elif toks[j] == "{":
            if depth == 0:
                return j > 0 and toks[j - 1] in ("_", "^")
            depth -= 1
    return False


def _index_atoms(toks: list[str]) -> list[list[str]]:
    """The index atoms of a subscript: "ij" -> i, j; "i y_i" -> i, y_i; "i, c, s(p-1)+u" by
    its commas; "t - 1" is one index computed from others; "\\hat k_i" one decorated symbol."""
    items = _split_top(toks, lambda ts, i: ts[i] == ",")
    if len(items) > 1:
        return items
    if len(_split_top(toks[1:], lambda ts, i: ts[i] in ("+", "-"))) > 1:
        return [toks]
    atoms, k = [], 0
    while k < len(toks):
        t = toks[k]
        atom = [t]
        k += 1
        if t in (r"\hat", r"\tilde", r"\bar") and k < len(toks):
            j = _skip_group(toks, k)
            atom += toks[k:j]
            k = j
        while k < len(toks) and toks[k] in ("_", "^"):
            atom.append(toks[k])
            k += 1
            if toks[k] == "{":
                j = _skip_group(toks, k)
                atom += toks[k:j]
                k = j
            else:
                atom.append(toks[k])
                k += 1
        atoms.append(atom)
    return atoms


def _index_spellings(toks: list[str]) -> list[str]:
    """The index atoms of a subscript as written, to compare indices by their names."""
    return [" ".join(atom) for atom in _index_atoms(toks)]


class IndexedFn:
    """e_k(y), f_k(x): a bound function whose result is indexed."""

    def __init__(self, fn, idx):
        self.fn, self.idx = fn, idx

    def __call__(self, *args):
        out = np.asarray(self.fn(*args))
        return float(out[tuple(self.idx)])


class RandomVar:
    """A random variable on a finite, equally likely sample space: its value at each outcome.

    An array of them (W_jk, a_j) has the outcomes on its last axis; arithmetic between
    random variables is outcome by outcome, and Var and E (bound by the test) average over
    the outcomes exactly.
    """

    def __init__(self, outcomes):
        self.v = np.asarray(outcomes, dtype=float)

    def __getitem__(self, idx):
        return RandomVar(self.v[idx])


class Dyn:
    """A binding whose value depends on the other bindings at the point: w before batch k."""

    def __init__(self, fn):
        self.fn = fn


class LazyFn:
    """A function that receives its arguments unevaluated, with the evaluator: E[...] and
    P(...) evaluate them over every outcome of a distribution the test enumerates."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        raise TypeError("a LazyFn is called by the evaluator")


class EnvFn:
    """A bound function that also reads the other bindings at the point (D_u reads u)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        raise TypeError("an EnvFn is called by the evaluator")


class FnValue:
    """A function together with its value at the test's point: f(x) calls, f_k is a number.

    For formulas that write f_k(x) and f_k for the same quantity (softmax regression).
    """

    def __init__(self, fn, value):
        self.fn, self.value = fn, np.asarray(value, dtype=float)

    def __call__(self, *args):
        return self.fn(*args)


class IndexedValue(float):
    """f_k: the number f(x)[k]; f_k(x') calls f and takes entry k."""

    def __new__(cls, value, fn, idx):
        obj = super().__new__(cls, value)
        obj.fn, obj.idx = fn, idx
        return obj

    def __call__(self, *args):
        return float(np.asarray(self.fn(*args))[tuple(self.idx)])


class Unbound(Exception):
    """A symbol of the formula that the test's environment does not bind."""


_MISSING = object()


# --------------------------------------------------------------------------------------
# Checking a formula
# --------------------------------------------------------------------------------------

@dataclass
class Case:
    """How to check one display formula: environments binding its symbols.

    envs(rng) returns an iterable of dicts. Each dict binds names (see the module docstring)
    to inputs and to the code's results; "__ranges__" maps free index letters to their range:
    the name of their size (defaults: i -> m, j -> n, k -> C, c -> C), a number, a pair
    (first, last), or a function of the environment giving one (for n_l, which depends on
    l); "__after__" holds the values after an update for the left side of a "\\leftarrow";
    "__case__" names the text label of the cases branch, or of the words before a statement,
    that applies; "__labels__" names the class labels among the bindings (0-based
    in code, they are read 1-based like every index on the page, k = 1, ..., C).
    """
    envs: Callable[[np.random.Generator], Iterable[dict]]
    approx_rtol: float | None = None     # for parts joined by \approx: the stated tolerance
    why_approx: str = ""
    #: Relations the page states as what would hold under an assumption the case does not
    #: meet ("a convex loss would satisfy <="): they must fail at every point of the case.
    refuted: tuple[str, ...] = ()
    why_refuted: str = ""


@dataclass
class Report:
    page: str
    number: int
    section: str
    parts: int = 0
    statements: int = 0
    proved: int = 0
    undecided: int = 0
    points: int = 0
    symbolic: bool = False


@dataclass
class Equation:
    page: str
    number: int
    tex: str
    section: str | None
    line: int


@cache
def page_equations(page: str) -> tuple[Equation, ...]:
    parsed = parse_page(DOCS / page)
    out = []
    for k, f in enumerate(parsed.formulas, start=1):
        out.append(Equation(page, k, f.tex, f.include.section if f.include else None, f.line))
    return tuple(out)


def equation_for(page: str, section: str) -> Equation:
    for eq in page_equations(page):
        if eq.section == section:
            return eq
    raise LookupError(f"{page} has no display formula paired with the section {section!r}")


DEFAULT_RANGES = {"i": "m", "j": "n", "k": "C", "c": "C"}


def _where(eq: Equation) -> str:
    return f"docs/{eq.page}, eq. ({eq.number}) [line {eq.line}, section {eq.section!r}]"


def check(page: str, section: str, case: Case, rng: np.random.Generator,
          prove: bool = True) -> Report:
    """Check one display formula of a page, part by part, against the case's environments."""
    eq = equation_for(page, section)
    where = _where(eq)
    try:
        sts = statements(eq.tex)
        chains = [(st, parse_statement(st)) for st in sts]
    except Unreadable as err:
        raise AssertionError(f"{where}: the reader cannot read {err}") from None
    report = Report(page, eq.number, section, statements=len(chains))
    taken: dict[int, set[int]] = {}
    envs = list(case.envs(rng))
    if not envs:
        raise AssertionError(f"{where}: the case gives no environment")
    declared: dict[str, Node] = {}
    for _, chain in chains:
        for var, _lo, hi in chain.ranges:
            declared[var] = hi
    for env in envs:
        env = dict(env)
        for name in env.pop("__labels__", ()):
            # class labels are 0-based in code and 1-based on the page (k = 1, ..., C)
            env[name] = np.asarray(env[name]) + 1 if np.ndim(env[name]) else int(env[name]) + 1
        ranges = {**DEFAULT_RANGES, **env.pop("__ranges__", {})}
        for var, hi in declared.items():
            ranges[var] = ("__declared__", hi)
        for st, chain in chains:
            if st.label is not None and env.get("__case__") != st.label:
                continue       # the statement holds in the case its words name, not here
            if not chain.parts or (len(chain.parts) == 1 and not chain.rels):
                if isinstance(chain.parts[0], Shaped) if chain.parts else False:
                    pass
                elif chain.ranges:
                    continue
            try:
                report.points += _check_chain(chain, env, ranges, taken, case, report)
            except Unreadable as err:
                raise AssertionError(f"{where}: the reader cannot read {err}\n  in: {st.tex}") \
                    from None
            except Unbound as err:
                raise AssertionError(f"{where}: the test binds no value to {err}\n  in: {st.tex}"
                                     ) from None
            except (Mismatch, FloatingPointError, ValueError, IndexError, TypeError,
                    ZeroDivisionError, KeyError) as err:
                raise AssertionError(f"{where}: {type(err).__name__}: {err}\n  in: {st.tex}"
                                     ) from None
    report.parts = sum(len(c.parts) for _, c in chains)
    for _, chain in chains:
        for node in _walk(chain):
            if isinstance(node, Cases):
                missing = set(range(len(node.branches))) - taken.get(node.uid, set())
                if missing:
                    raise AssertionError(f"{where}: cases branch(es) {sorted(missing)} are never "
                                         "taken at the test's points: bind values that reach them")
    if prove:
        from proofs import prove_chains  # sympy is imported only where proofs are needed
        proved, undecided, symbolic = prove_chains(chains, envs[0], where)
        report.proved, report.undecided, report.symbolic = proved, undecided, symbolic
    return report


def _walk(node):
    yield node
    for value in vars(node).values() if isinstance(node, Node) else ():
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, Node):
                yield from _walk(item)
            elif isinstance(item, tuple | list):
                for sub in item:
                    if isinstance(sub, Node):
                        yield from _walk(sub)


def _check_chain(chain: Chain, env: dict, ranges: dict, taken, case: Case, report) -> int:
    """Evaluate every part of a chain at every value of its free indices; return the points."""
    resolved = {}
    for var, r in ranges.items():
        if isinstance(r, tuple) and r[0] == "__declared__":
            try:
                resolved[var] = int(Evaluator(env, {}, taken).value(r[1]))
            except (Unbound, KeyError, Unreadable):
                continue
        elif isinstance(r, str):
            if r in env:
                resolved[var] = int(env[r])
        elif callable(r) or isinstance(r, tuple):
            resolved[var] = r
        else:
            resolved[var] = int(r)
    return _eval_points(chain, dict(env), resolved, taken, case, report)


def _eval_points(chain, env, ranges, taken, case, report) -> int:
    ev = Evaluator(env, ranges, taken)
    try:
        _compare_chain(ev, chain, case)
        return 1
    except SkipPoint:
        return 0
    except FreeIndex as free:
        if free.name not in ranges:
            raise Unbound(f"the range of the free index {free.name}") from None
        total = 0
        bound = env.get("__bound__", ())
        size = ranges[free.name]
        if callable(size):
            size = size(env)         # a range that depends on another index: n_l
        lo, hi = size if isinstance(size, tuple) else (1, size)
        for v in range(int(lo), int(hi) + 1):     # the page's values, 1-based
            sub = dict(env)
            sub[free.name] = v
            sub["__bound__"] = (*bound, free.name)
            total += _eval_points(chain, sub, ranges, taken, case, report)
        return total


def _compare_chain(ev: Evaluator, chain: Chain, case: Case) -> None:
    after = ev.env.get("__after__")
    vals = []
    approx_flags = []
    for k, part in enumerate(chain.parts):
        ev.approx = False
        rel_before = chain.rels[k - 1] if k > 0 else None
        if rel_before == "in":
            vals.append(part)
            approx_flags.append(False)
            continue
        if k == 0 and chain.rels and chain.rels[0] == "<-":
            if after is None:
                raise Unbound("__after__ (the values after the update)")
            ev_after = Evaluator({**ev.env, **after}, ev.ranges, ev.taken)
            vals.append(ev_after.value(part))
        else:
            vals.append(ev.value(part))
        approx_flags.append(ev.approx)
    if not chain.rels:
        return
    for k, rel in enumerate(chain.rels):
        a, b = vals[k], vals[k + 1]
        loose = approx_flags[k] or approx_flags[k + 1]
        if rel == "in":
            _check_membership(ev, a, b)
            continue
        if rel in ("=", "<-"):
            _assert_equal(a, b, FD_RTOL if loose else EXACT_RTOL, FD_ATOL if loose else EXACT_ATOL,
                          k)
        elif rel == "~":
            if case.approx_rtol is None:
                raise Unbound("approx_rtol (the tolerance of \\approx, with its reason)")
            _assert_equal(a, b, case.approx_rtol, case.approx_rtol, k)
        else:
            a_, b_ = _dense(a), _dense(b)
            op = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                  "!=": np.not_equal}[rel]
            if rel in case.refuted:
                if np.any(op(a_, b_)):
                    raise Mismatch(f"the relation {rel} between parts {k + 1} and {k + 2} was "
                                   f"to fail here ({case.why_refuted}), but holds: {a_} {rel} {b_}")
                continue
            if not np.all(op(a_, b_)):
                raise Mismatch(f"the relation {rel} between parts {k + 1} and {k + 2} fails: "
                               f"{a_} {rel} {b_}")


def _check_membership(ev: Evaluator, value, space: Node) -> None:
    if isinstance(space, Reals):
        if space.dims:
            ev.assert_shape(value, space.dims, space)
        v = np.asarray(_dense(value), dtype=float)
        if not np.all(np.isreal(v)):
            raise Mismatch("a value that is not real")
        return
    if isinstance(space, SetLit):
        items = [float(ev.value(i)) for i in space.items]
        v = np.asarray(_dense(value), dtype=float)
        if not np.all(np.isin(v, items)):
            raise Mismatch(f"values {v} outside the set {items}")
        return
    raise Unreadable("a membership in something other than R^(...) or a listed set")


def _dense(v):
    if isinstance(v, Row):
        return v.v
    if isinstance(v, OnesVec):
        return 1.0
    if isinstance(v, ScaledOnes):
        return v.c
    return v


#: Where two functions are compared (g = \tanh): points spread over the range that matters.
FUNCTION_POINTS = np.linspace(-4.0, 4.0, 17)


def _assert_equal(a, b, rtol, atol, k) -> None:
    if isinstance(a, FnValue):
        a = a.value
    if isinstance(b, FnValue):
        b = b.value
    if _is_fn(a) and _is_fn(b):
        with np.errstate(all="raise"):
            a, b = np.asarray(a(FUNCTION_POINTS)), np.asarray(b(FUNCTION_POINTS))
    if _is_fn(a) or _is_fn(b):
        raise Mismatch(f"part {k + 1} or {k + 2} is a function, not a value: is an argument missing?")
    if isinstance(a, Row) != isinstance(b, Row):
        if not (_is_scalar(_dense(a)) or _is_scalar(_dense(b))):
            raise Mismatch(f"part {k + 1} is a {'row' if isinstance(a, Row) else 'column'} and part "
                           f"{k + 2} a {'row' if isinstance(b, Row) else 'column'}")
    lazy = (OnesVec, ScaledOnes, Broadcast, OuterOnes)
    if isinstance(a, lazy):
        a = _densify(a, b)
    if isinstance(b, lazy):
        b = _densify(b, a)
    a, b = _dense(a), _dense(b)
    if isinstance(a, str) or isinstance(b, str):
        raise Mismatch("an outer product of ones compared as a value")
    sa, sb = np.shape(a), np.shape(b)
    if sa != sb and not (sa == () or sb == ()):
        raise Mismatch(f"part {k + 1} has shape {sa} and part {k + 2} has shape {sb}")
    if sa != sb and (np.ndim(a) > 0 or np.ndim(b) > 0):
        # a scalar equal to every entry (w = 0, a bias of ones) is fine
        pass
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not np.all(np.isfinite(a_)) or not np.all(np.isfinite(b_)):
        if not np.array_equal(a_, b_):
            raise Mismatch(f"part {k + 1} = {a_} and part {k + 2} = {b_} (not finite)")
        return
    if not np.allclose(a_, b_, rtol=rtol, atol=atol):
        err = np.max(np.abs(a_ - b_) / (atol + rtol * np.abs(b_)))
        raise Mismatch(f"part {k + 1} and part {k + 2} differ: {np.array2string(a_, precision=6)} "
                       f"vs {np.array2string(b_, precision=6)} ({err:.1f} x the tolerance "
                       f"rtol={rtol:g})")


# --------------------------------------------------------------------------------------
# The pytest side
# --------------------------------------------------------------------------------------

def formula_test(page: str, cases: dict[str, Case]):
    """A parametrised test that checks every registered display formula of a page."""
    import pytest

    sections = sorted(cases, key=lambda s: _number_or_zero(page, s))

    @pytest.mark.formulas
    @pytest.mark.parametrize("section", sections,
                             ids=[f"eq{_number_or_zero(page, s)}-{s}" for s in sections])
    def test_displayed_formula(section, rng):
        report = check(page, section, cases[section], rng)
        from registry import load_summary
        entry = load_summary().get(page, {}).get(section)
        where = f"docs/{page}, eq. ({report.number})"
        assert entry is not None, f"{where} is not in tests/formula_summary.json: run 'make formula-summary'"
        got = {"eq": report.number, "parts": report.parts, "proved": report.proved,
               "undecided": report.undecided}
        recorded = {k: entry.get(k) for k in got}
        assert got == recorded, (f"{where}: the checks now give {got}, the summary the site shows "
                                 f"records {recorded}: run 'make formula-summary'")

    test_displayed_formula.__doc__ = f"Every display formula of docs/{page}, read as displayed."
    return test_displayed_formula


def _number_or_zero(page: str, section: str) -> int:
    try:
        return equation_for(page, section).number
    except (LookupError, FileNotFoundError):
        return 0


def summarise(rng_seed: int = 0) -> dict:
    """Check every registered formula and return the summary the site's checks page shows."""
    from registry import cases_of, pages_with_formulas, unevaluable
    listed = unevaluable()
    out: dict = {}
    for page in pages_with_formulas():
        cases = cases_of(page)
        entries = out.setdefault(page, {})
        for eq in page_equations(page):
            if eq.section is None:
                continue
            if (page, eq.section) in listed:
                entries[eq.section] = {"eq": eq.number, "status": "listed",
                                       "reason": listed[(page, eq.section)]}
                continue
            if eq.section not in cases:
                entries[eq.section] = {"eq": eq.number, "status": "unchecked"}
                continue
            r = check(page, eq.section, cases[eq.section], np.random.default_rng(rng_seed))
            entries[eq.section] = {"eq": eq.number, "status": "checked", "parts": r.parts,
                                   "proved": r.proved, "undecided": r.undecided}
    return out
