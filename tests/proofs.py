"""Prove with sympy that consecutive parts of a scalar statement are equal as expressions.

Used by tests/formulas.py after the numeric check. A statement qualifies when every part
converts to sympy: numbers, symbols bound to scalars, the arithmetic operations, the
elementary functions, the sigmoid, cases (as Piecewise) and derivatives of expressions
(differentiated symbolically). A part that holds an array, an index, a sum over data or a
function bound to code cannot be converted; a pair of parts that sympy cannot show equal is
counted as undecided and reported, never as proved.
"""

from __future__ import annotations

import sympy as sp

import formulas as F

_SYMPY_FUNCS = {
    "log": sp.log, "exp": sp.exp, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "tanh": sp.tanh, "cosh": sp.cosh, "sinh": sp.sinh, "sqrt": sp.sqrt, "sign": sp.sign,
    "erf": sp.erf,
}

#: Functions the site defines in words and code; their sympy meaning for proofs.
_KNOWN = {
    "sigma": lambda z: 1 / (1 + sp.exp(-z)),
    "softplus": lambda z: sp.log(1 + sp.exp(z)),
    "ReLU": lambda z: sp.Max(0, z),
}


class NotSymbolic(Exception):
    pass


class ToSympy:
    def __init__(self, env: dict):
        self.env = env
        self.symbols: dict[str, sp.Symbol] = {}

    def sym(self, name: str) -> sp.Symbol:
        if name not in self.symbols:
            self.symbols[name] = sp.Symbol(name.replace("'", "_prime"), real=True)
        return self.symbols[name]

    def conv(self, node):
        method = getattr(self, "c_" + type(node).__name__, None)
        if method is None:
            raise NotSymbolic(type(node).__name__)
        return method(node)

    def c_Num(self, n):
        v = n.value
        return sp.Integer(int(v)) if float(v).is_integer() else sp.nsimplify(v)

    def c_Sym(self, s):
        if s.sub is not None or s.layer is not None:
            name = s.base + s.marks + "_" + "".join(s.sub or [])
            key = name
            if key not in self.env:
                raise NotSymbolic(name)
        else:
            key = s.base + s.marks
        if key == "pi" and key not in self.env:
            return sp.pi
        value = self.env.get(key, None)
        if value is None or not F._is_scalar(value):
            raise NotSymbolic(key)
        return self.sym(key)

    def c_Unary(self, n):
        return -self.conv(n.arg)

    def c_Bin(self, n):
        a, b = self.conv(n.left), self.conv(n.right)
        if n.op == "+":
            return a + b
        if n.op == "-":
            return a - b
        if n.op in ("*", "odot"):
            return a * b
        if n.op == "/":
            return a / b
        raise NotSymbolic(n.op)

    def c_Power(self, n):
        return self.conv(n.base) ** self.conv(n.exp)

    def c_Apply(self, n):
        fn = n.fn
        name = fn if isinstance(fn, str) else (fn.base if isinstance(fn, F.Sym) and fn.sub is None
                                               and not fn.marks else None)
        if name is None:
            raise NotSymbolic("a named function with a subscript or prime")
        args = [self.conv(a) for a in n.args]
        if name in ("max", "min") and len(args) >= 2:
            return (sp.Max if name == "max" else sp.Min)(*args)
        if name in _SYMPY_FUNCS and len(args) == 1:
            return _SYMPY_FUNCS[name](args[0])
        if name in _KNOWN and len(args) == 1:
            return _KNOWN[name](args[0])
        if name in self.env and F._is_scalar(self.env[name]) and len(args) == 1:
            return self.sym(name) * args[0]
        raise NotSymbolic(f"the function {name}")

    def c_Abs(self, n):
        return sp.Abs(self.conv(n.arg))

    def c_Shaped(self, n):
        return self.conv(n.arg)

    def c_Named(self, n):
        return self.conv(n.arg)

    def c_Cases(self, n):
        pieces = []
        for value, cond in n.branches:
            pieces.append((self.conv(value), self.condition(cond)))
        return sp.Piecewise(*pieces)

    def condition(self, toks):
        toks = F._without_remarks(toks)
        if any(t.startswith("TEXT:") for t in toks):
            raise NotSymbolic("a condition in words")
        chain = F.Parser(toks).chain()
        vals = [self.conv(p) for p in chain.parts]
        rel = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "=": sp.Eq, "!=": sp.Ne}
        conds = [rel[r](a, b) for r, a, b in zip(chain.rels, vals[:-1], vals[1:], strict=True)]
        return sp.And(*conds)

    def c_Deriv(self, n):
        if n.num is None:
            expr = self.conv(n.operand)
        elif isinstance(n.num, F.Sym):
            raise NotSymbolic("a derivative named by its symbols")
        else:
            expr = self.conv(n.num)
        var = self.conv(n.den)
        return sp.diff(expr, var)


def prove_chains(chains, env: dict, where: str) -> tuple[int, int, bool]:
    """Return (pairs proved, pairs undecided, whether any statement was scalar)."""
    env = {k: v for k, v in env.items() if not k.startswith("__")}
    proved = undecided = 0
    symbolic = False
    for _, chain in chains:
        conv = ToSympy(env)
        exprs = []
        for part in chain.parts:
            try:
                exprs.append(conv.conv(part))
            except (NotSymbolic, F.Unreadable, KeyError, TypeError, ValueError):
                exprs.append(None)
        lone = [isinstance(p, F.Sym) or (isinstance(p, F.Shaped) and isinstance(p.arg, F.Sym))
                for p in chain.parts]
        for k, (rel, a, b) in enumerate(zip(chain.rels, exprs[:-1], exprs[1:], strict=True)):
            if rel != "=" or a is None or b is None or lone[k] or lone[k + 1]:
                continue   # a name bound to the code's value is checked numerically only
            if a.free_symbols != b.free_symbols:
                continue   # x_{t+1} - 2 = ... (x_t - 2): a relation between quantities the
                # code computes, checked numerically; an identity has the same variables
            symbolic = True
            if _equal(a, b):
                proved += 1
            else:
                undecided += 1
    return proved, undecided, symbolic


#: Above this many operations sympy's general simplify is not tried: it can take many seconds,
#: and the result would then depend on time, not on the formula. Such a step is "undecided".
SIMPLIFY_MAX_OPS = 60


def _equal(a, b) -> bool:
    diff = a - b
    if diff == 0:
        return True
    try:
        if diff.has(sp.Piecewise):
            folded = sp.piecewise_fold(diff)
            if isinstance(folded, sp.Piecewise):
                seen = []
                ok = True
                for expr, cond in folded.args:
                    effective = sp.simplify(sp.And(cond, *[sp.Not(c) for c in seen]))
                    seen.append(cond)
                    ok &= _zero_under(expr, effective)
                return ok
        if diff.has(sp.Abs, sp.Max, sp.Min, sp.sign):
            return _zero_by_sign(diff)
        return _is_zero(diff)
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return False


def _is_zero(expr) -> bool:
    """Is expr identically zero? Exponentials become powers of a new variable, then cancel."""
    rational = _exp_to_powers(sp.expand(expr.rewrite(sp.exp)))
    if rational is not None:
        if sp.cancel(sp.together(rational)) == 0:
            return True
        combined = sp.logcombine(sp.expand_log(rational, force=True), force=True)
        if isinstance(combined, sp.log) and sp.cancel(sp.together(combined.args[0] - 1)) == 0:
            return True       # log A - log B with A / B = 1
    if sp.count_ops(expr) > SIMPLIFY_MAX_OPS:
        return False
    return sp.simplify(expr) == 0


def _exp_to_powers(expr):
    """Replace exp(c*v) by t_v**c for numbers c; None if an exponent is not of that form."""
    out = expr
    for e in sorted(expr.atoms(sp.exp), key=sp.default_sort_key):
        arg = sp.expand(e.args[0])
        free = arg.free_symbols
        if len(free) != 1:
            return None
        v = next(iter(free))
        c = sp.simplify(arg / v)
        if not c.is_Rational:
            return None
        t = sp.Symbol(f"t_{v}", positive=True)
        out = out.subs(e, t**c)
    if out.has(sp.exp):
        return None
    for v in list(out.free_symbols):
        t = sp.Symbol(f"t_{v}", positive=True)
        if not str(v).startswith("t_") and out.has(t):
            out = out.subs(v, sp.log(t))     # v = log t wherever v is left bare
    return out


def _zero_by_sign(diff) -> bool:
    """Abs, max and sign split on the sign of each variable: v = +p and v = -p with p > 0."""
    free = sorted(diff.free_symbols, key=str)
    if len(free) != 1:
        return False
    p = sp.Symbol("p_split", positive=True)
    return all(_is_zero(sp.expand_log(diff.subs(free[0], sign * p), force=True))
               for sign in (1, -1))


def _zero_under(expr, cond) -> bool:
    """Is expr zero wherever cond holds? Uses the sign a simple condition gives a symbol."""
    if cond is sp.false:
        return True
    conds = cond.args if isinstance(cond, sp.And) else (cond,)
    for c in conds:
        if isinstance(c, sp.GreaterThan | sp.StrictGreaterThan) and c.rhs == 0 and c.lhs.is_Symbol:
            expr = expr.subs(sp.Abs(c.lhs), c.lhs)
        elif isinstance(c, sp.LessThan | sp.StrictLessThan) and c.rhs == 0 and c.lhs.is_Symbol:
            expr = expr.subs(sp.Abs(c.lhs), -c.lhs)
    try:
        return _is_zero(expr)
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return False
