"""The whitelist: jinja2's generated module, checked construct by construct, compiled to run on
runtime.py; anything else is None (jinja2 renders it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import CodeType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ast

from loopkit.precompiled.runtime import Shape

# --- the whitelist: jinja2's generated module → our code object, or None ----------------------------


class _Unsupported(Exception):
    pass


def _local(name: str) -> bool:  # a template variable, l_<depth>_<name>
    return re.fullmatch(r"l_\d+_\w+", name) is not None


def _slot(name: str) -> bool:  # a bound filter or test, or a for-else flag
    return re.fullmatch(r"t_\d+", name) is not None


_PROLOGUE = {
    "resolve": "context.resolve_or_missing",
    "undefined": "environment.undefined",
    "concat": "environment.concat",
    "cond_expr_undefined": "Undefined",
}


def adapt(
    generated: str, *, filters: Mapping[str, Shape], tests: frozenset[str], globals_: frozenset[str]
) -> CodeType | None:
    """jinja2's generated module (`Environment.compile(..., raw=True)`), checked construct by
    construct against what this runtime implements exactly, compiled to run on it; else None."""
    import ast

    try:
        module = ast.parse(generated)
        _Checker(filters=filters, tests=tests, globals_=globals_).module(module)
    except (SyntaxError, _Unsupported):
        return None
    return compile(ast.fix_missing_locations(module), "<loopkit precompiled template>", "exec")


class _Checker:
    def __init__(
        self, *, filters: Mapping[str, Shape], tests: frozenset[str], globals_: frozenset[str]
    ) -> None:
        self.filters = filters
        self.tests = tests
        self.globals = globals_
        self.slots: dict[str, tuple[str, str] | None] = {}  # t_N → (filters|tests, name); None: a flag

    def module(self, module: ast.Module) -> None:
        import ast

        body = module.body
        first = body[0] if body else None
        if not (isinstance(first, ast.ImportFrom) and first.module == "jinja2.runtime" and first.level == 0):
            raise _Unsupported
        roots = 0
        for stmt in body[1:]:
            if isinstance(stmt, ast.FunctionDef) and stmt.name == "root":
                args = ast.unparse(stmt.args)
                if args != "context, missing=missing, environment=environment" or stmt.decorator_list:
                    raise _Unsupported
                self.block(stmt.body)
                roots += 1
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target = ast.unparse(stmt.targets[0])
                ok = (target in ("name", "debug_info") and isinstance(stmt.value, ast.Constant)) or (
                    target == "blocks" and isinstance(stmt.value, ast.Dict) and not stmt.value.keys
                )
                if not ok:
                    raise _Unsupported
            else:
                raise _Unsupported
        if roots != 1:
            raise _Unsupported
        del body[0]  # the runtime's names come from our namespace instead

    def block(self, stmts: list[ast.stmt]) -> None:
        import ast

        for index, stmt in enumerate(stmts):
            if isinstance(stmt, ast.Try):
                stmts[index] = self.binding(stmt)
            elif isinstance(stmt, ast.Assign):
                self.assign(stmt)
            elif isinstance(stmt, ast.If):
                self.expr(stmt.test)
                self.block(stmt.body)
                self.block(stmt.orelse)
            elif isinstance(stmt, ast.For):
                if stmt.orelse:
                    raise _Unsupported
                self.target(stmt.target)
                self.expr(stmt.iter)
                # a generator would be used up before a fallback to jinja2 could render it
                stmt.iter = ast.Call(
                    func=ast.Name(id="_replayable", ctx=ast.Load()), args=[stmt.iter], keywords=[]
                )
                ast.copy_location(stmt.iter, stmt)
                self.block(stmt.body)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Yield):
                if stmt.value.value is not None:
                    self.expr(stmt.value.value)
            elif not isinstance(stmt, ast.Pass):
                raise _Unsupported

    def binding(self, stmt: ast.Try) -> ast.stmt:
        import ast

        """`try: t_N = environment.filters['x'] except KeyError: ...` for a whitelisted x."""
        if len(stmt.body) != 1 or stmt.orelse or stmt.finalbody or len(stmt.handlers) != 1:
            raise _Unsupported
        assign = stmt.body[0]
        handler = stmt.handlers[0]
        if not (
            isinstance(assign, ast.Assign)
            and len(assign.targets) == 1
            and isinstance(slot := assign.targets[0], ast.Name)
            and _slot(slot.id)
            and slot.id not in self.slots
            and isinstance(sub := assign.value, ast.Subscript)
            and ast.unparse(sub.value) in ("environment.filters", "environment.tests")
            and isinstance(sub.slice, ast.Constant)
            and isinstance(handler.type, ast.Name)
            and handler.type.id == "KeyError"
        ):
            raise _Unsupported
        kind = ast.unparse(sub.value).removeprefix("environment.")
        name = sub.slice.value
        if not isinstance(name, str):
            raise _Unsupported
        if not ((kind == "filters" and name in self.filters) or (kind == "tests" and name in self.tests)):
            raise _Unsupported
        self.slots[slot.id] = (kind, name)
        return assign  # the name is always there: the KeyError branch cannot run

    def assign(self, stmt: ast.Assign) -> None:
        import ast

        if len(stmt.targets) == 1 and isinstance(only := stmt.targets[0], ast.Name):
            if only.id in _PROLOGUE:
                if ast.unparse(stmt.value) != _PROLOGUE[only.id]:
                    raise _Unsupported
                return
            if only.id == "_loop_vars":
                if not (isinstance(stmt.value, ast.Dict) and not stmt.value.keys):
                    raise _Unsupported
                return
            if _slot(only.id):  # a for-else flag: t_1 = 1, t_1 = 0
                if not isinstance(stmt.value, ast.Constant) or self.slots.get(only.id, None) is not None:
                    raise _Unsupported
                self.slots[only.id] = None
                return
        for target in stmt.targets:
            if not (isinstance(target, ast.Name) and _local(target.id)):
                raise _Unsupported
        self.expr(stmt.value)

    def target(self, node: ast.expr) -> None:
        import ast

        if isinstance(node, ast.Tuple):
            for element in node.elts:
                self.target(element)
        elif not (isinstance(node, ast.Name) and _local(node.id) and not node.id.endswith("_loop")):
            raise _Unsupported

    def expr(self, node: ast.expr) -> None:
        import ast

        if isinstance(node, ast.Constant):
            return
        if isinstance(node, ast.Name):
            flag = _slot(node.id) and node.id in self.slots and self.slots[node.id] is None
            if not (_local(node.id) or node.id == "missing" or flag):
                raise _Unsupported
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.expr(value)
        elif isinstance(node, ast.BinOp):
            self.expr(node.left)
            self.expr(node.right)
        elif isinstance(node, ast.UnaryOp):
            self.expr(node.operand)
        elif isinstance(node, ast.Compare):
            self.compare(node)
        elif isinstance(node, ast.IfExp):
            self.expr(node.test)
            self.expr(node.body)
            self.expr(node.orelse)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.expr(element)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    raise _Unsupported
                self.expr(key)
                self.expr(value)
        elif isinstance(node, ast.Call):
            self.call(node)
        else:
            raise _Unsupported

    def compare(self, node: ast.Compare) -> None:
        import ast

        self.expr(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot) and not (
                isinstance(right, ast.Name) and right.id == "missing"
            ):
                raise _Unsupported
            self.expr(right)

    def call(self, node: ast.Call) -> None:
        import ast

        func = ast.unparse(node.func)
        args = node.args
        if any(isinstance(arg, ast.Starred) for arg in args):
            raise _Unsupported
        if func == "undefined":
            if args or any(k.arg not in ("hint", "obj", "name") for k in node.keywords):
                raise _Unsupported
            for keyword in node.keywords:
                if not isinstance(keyword.value, ast.Constant):
                    raise _Unsupported
            return
        if node.keywords:
            raise _Unsupported
        if func == "resolve":
            if not (len(args) == 1 and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)):
                raise _Unsupported
            if args[0].value in self.globals:  # jinja2 would find range, dict, … in its globals
                raise _Unsupported
            return
        if func in ("str", "str_join") and len(args) == 1:
            if func == "str_join" and not isinstance(args[0], ast.Tuple):
                raise _Unsupported
            self.expr(args[0])
            return
        if func in ("environment.getattr", "environment.getitem") and len(args) == 2:
            key = args[1]
            if func == "environment.getattr" and not (
                isinstance(key, ast.Constant) and isinstance(key.value, str)
            ):
                raise _Unsupported
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("_"):
                raise _Unsupported  # __class__ and friends differ between our objects and jinja2's
            self.expr(args[0])
            self.expr(key)
            return
        bound = self.slots.get(func) if _slot(func) else None
        if bound is None:
            raise _Unsupported
        kind, name = bound
        if kind == "tests":
            if len(args) != 1:
                raise _Unsupported
        else:
            shape = self.filters[name]
            if shape.eval_ctx:
                if not args or ast.unparse(args[0]) != "context.eval_ctx":
                    raise _Unsupported
                args = args[1:]
            if not 1 <= len(args) <= shape.max_args:
                raise _Unsupported
        for arg in args:
            self.expr(arg)
