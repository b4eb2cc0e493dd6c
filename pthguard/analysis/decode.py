"""What a piece of startup code reaches, read statically: nothing here executes it.

:func:`examine` parses the source with :mod:`ast` and walks it in source order, keeping a
small table of names (``import base64 as b``, ``s = '...'``, ``e = exec``). Expressions built
only from literals are evaluated: string concatenation, ``str.join``, slices such as
``[::-1]``, ``chr`` codes, ``encode``/``decode``, and the data-only decoders of the standard
library: base64/32/16/85 and Ascii85, hex (``bytes.fromhex``, ``binascii``), rot13,
``unicode_escape``, and zlib, gzip, bz2 and lzma decompression (each output capped at
:data:`MAX_OUTPUT`). When such a value reaches ``exec``/``eval``/``compile``, it becomes a new
*layer* of source that is examined the same way, up to :data:`MAX_DEPTH` layers; the
decoders used on the way are its ``via``. The only functions ever called are those pure
decoders and ``str``/``bytes`` methods, on data, with size caps.

Every reference to a module or function is resolved to a dotted name (``getattr(__import__(
'o'+'s'), 'system')`` is ``os.system``) and matched with the tables below. A bare name that
no statement bound resolves to itself: an import line runs with ``site``'s globals, where
``os`` and ``sys`` are already bound. Every string value is matched with credential-path and
URL patterns. A layer that does not parse is matched with the same patterns as text.

The result is a list of :class:`Event`\\ s; :mod:`.analyze` turns them into findings.
"""

from __future__ import annotations

import ast
import binascii
import codecs
import lzma
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from pthguard.analysis.decoders import (
    ALL_DECODERS,
    CODEC_FUNCTIONS,
    DECODERS,
    MAX_OUTPUT,
    Undecidable,
    as_ascii,
    as_int,
    as_latin1,
    capped,
    codec_kind,
    text_decode,
)
from pthguard.analysis.reach import looks_encoded, reach_of, string_matches, text_matches

__all__ = ["MAX_BUDGET", "MAX_DEPTH", "MAX_OUTPUT", "CodeFacts", "Event", "Layer", "examine"]

#: The deepest nesting of decoded layers (and of decoders in one expression) followed.
MAX_DEPTH: Final = 8
#: The total of decoded output per :func:`examine` call, all layers together.
MAX_BUDGET: Final = 16 << 20
#: Sources larger than this are matched as text only, never parsed.
MAX_SOURCE: Final = 4 << 20
#: Recursion guard of the expression evaluator.
_MAX_EXPR_DEPTH: Final = 64
#: The most items a comprehension over a literal is evaluated for.
_MAX_ITEMS: Final = 200_000

_EXEC_SINKS: Final = frozenset({"exec", "eval", "compile"})
_IMPORTERS: Final = frozenset({"__import__", "importlib.import_module", "importlib.__import__"})
_BUILTIN_PREFIXES: Final = ("builtins.", "__builtins__.", "__builtin__.")
_OPENERS: Final = frozenset({"open", "io.open", "codecs.open", "os.fdopen", "io.FileIO"})
_WRITE_METHODS: Final = frozenset({"write_text", "write_bytes", "symlink_to", "hardlink_to"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something the code does or reaches, found in the layer at ``depth``."""

    #: ``process``, ``network``, ``environment``, ``native-code``, ``deserialize``,
    #: ``import-hook``, ``file-write``, ``credentials``, ``url``, ``decode``, ``import``,
    #: ``dynamic-import``, ``exec-decoded``, ``exec-assembled``, ``exec-literal``,
    #: ``exec-dynamic``, ``opaque-data``, ``limit``, ``syntax-error``.
    kind: str
    #: What: a dotted name, a path, a decoder name, a message.
    detail: str
    #: 0 for the examined source, n for the n-th decoded layer inside it.
    depth: int = 0
    #: Decoders that produced the layer (``("base64", "zlib")``), empty at depth 0.
    via: tuple[str, ...] = ()
    #: Set when the event comes from matching text, not from the syntax tree.
    textual: bool = False
    #: Line in the examined source (for a deeper layer: of the statement that decoded it).
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """Source found inside the examined code and examined in turn."""

    depth: int
    via: tuple[str, ...]
    #: ``exec``, ``eval`` or ``compile``.
    sink: str
    text: str
    size: int
    #: Line of the depth-0 statement it was decoded from.
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeFacts:
    events: tuple[Event, ...]
    layers: tuple[Layer, ...]


@dataclass(frozen=True, slots=True)
class _Val:
    """A value computed from literals: its data, the decoders applied, whether it was built
    by concatenation or joining (``assembled``)."""

    data: str | bytes | int | tuple[object, ...]
    via: tuple[str, ...] = ()
    assembled: bool = False


@dataclass(slots=True)
class _Env:
    aliases: dict[str, str] = field(default_factory=dict)
    values: dict[str, _Val] = field(default_factory=dict)

    def copy(self) -> _Env:
        return _Env(aliases=dict(self.aliases), values=dict(self.values))


def string_events(
    text: str, depth: int, via: tuple[str, ...], line: int | None = None
) -> list[Event]:
    return [
        Event(kind=k, detail=d, depth=depth, via=via, line=line) for k, d in string_matches(text)
    ]


def text_events(
    text: str, depth: int, via: tuple[str, ...], line: int | None = None
) -> list[Event]:
    return [
        Event(kind=k, detail=d, depth=depth, via=via, textual=True, line=line)
        for k, d in text_matches(text)
    ]


def examine(source: str) -> CodeFacts:
    """Examine ``source`` (Python code) and every layer decoded from it."""
    walker = _Walker()
    walker.run(source, 0, (), _Env())
    events = list(dict.fromkeys(walker.events))
    for data in walker.long_literals:
        if hash(data) not in walker.consumed:
            shown = data[:60] if isinstance(data, str) else data[:60].decode("latin-1")
            line = walker.literal_lines.get(hash(data))
            detail = f"{len(data)} chars: {shown}..."
            events.append(Event(kind="opaque-data", detail=detail, line=line))
    return CodeFacts(events=tuple(dict.fromkeys(events)), layers=tuple(walker.layers))


class _Walker:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.layers: list[Layer] = []
        self.budget = MAX_BUDGET
        #: hashes of values a decoder consumed (so they are not "opaque").
        self.consumed: set[int] = set()
        self.long_literals: list[str | bytes] = []
        self.literal_lines: dict[int, int | None] = {}
        #: The line of the depth-0 statement being examined.
        self.line: int | None = None
        self._memo: dict[int, _Val | None] = {}

    # -- layers -----------------------------------------------------------------------------

    def run(self, source: str, depth: int, via: tuple[str, ...], env: _Env) -> None:
        if len(source) > MAX_SOURCE:
            self._event("limit", f"source of {len(source)} chars matched as text only", depth, via)
            self.events.extend(text_events(source, depth, via, self.line))
            return
        try:
            with warnings.catch_warnings():  # invalid escapes etc.: not ours to print
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            message = getattr(exc, "msg", None) or type(exc).__name__
            self._event("syntax-error", str(message), depth, via)
            self.events.extend(text_events(source, depth, via, self.line))
            return
        parents: dict[int, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[id(child)] = node
        # ``tree`` stays alive (a local) while node ids are used as keys.
        self._memo = {}
        stack: list[ast.AST] = [tree]
        while stack:
            node = stack.pop()
            if depth == 0 and isinstance(node, ast.stmt):
                self.line = node.lineno
            self._visit(node, parents, depth, via, env)
            stack.extend(reversed(list(ast.iter_child_nodes(node))))

    def _event(self, kind: str, detail: str, depth: int, via: tuple[str, ...]) -> None:
        self.events.append(Event(kind=kind, detail=detail, depth=depth, via=via, line=self.line))

    # -- one node ---------------------------------------------------------------------------

    def _visit(
        self,
        node: ast.AST,
        parents: dict[int, ast.AST],
        depth: int,
        via: tuple[str, ...],
        env: _Env,
    ) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self._import(node, depth, via, env)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self._assign(node, env)
        elif isinstance(node, ast.Call):
            self._call(node, depth, via, env)
            self._reference(node, parents, depth, via, env)
        elif isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                return
            self._reference(node, parents, depth, via, env)
            if isinstance(node, ast.Subscript):
                self._value(node, depth, via, env)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            self._value_strings(node.value, depth, via)
        elif isinstance(node, (ast.BinOp, ast.JoinedStr)):
            self._value(node, depth, via, env)

    def _reference(
        self,
        node: ast.expr,
        parents: dict[int, ast.AST],
        depth: int,
        via: tuple[str, ...],
        env: _Env,
    ) -> None:
        """Match the dotted name ``node`` refers to (the longest one: ``a.b.c``, not ``a.b``)."""
        parent = parents.get(id(node))
        longer = isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is node
        if longer and self._qualname(parent, env) is not None:  # type: ignore[arg-type]
            return
        name = self._qualname(node, env)
        if name is not None:
            category = reach_of(name)
            if category is not None:
                self._event(category, name, depth, via)

    def _value(self, node: ast.expr, depth: int, via: tuple[str, ...], env: _Env) -> None:
        value = self._try_eval(node, env)
        if value is not None and isinstance(value.data, (str, bytes)):
            self._value_strings(value.data, depth, value.via or via)

    def _value_strings(self, data: str | bytes, depth: int, via: tuple[str, ...]) -> None:
        text = data if isinstance(data, str) else data.decode("latin-1")
        self.events.extend(string_events(text, depth, via, self.line))
        if looks_encoded(text):
            self.long_literals.append(data)
            self.literal_lines.setdefault(hash(data), self.line)

    def _import(
        self, node: ast.Import | ast.ImportFrom, depth: int, via: tuple[str, ...], env: _Env
    ) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._imported(alias.name, depth, via)
                if alias.asname:
                    env.aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    env.aliases[top] = top
            return
        module = "." * node.level + (node.module or "")
        self._imported(module, depth, via)
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            env.aliases[alias.asname or alias.name] = full
            category = reach_of(full)
            if category is not None:
                self._event(category, full, depth, via)

    def _imported(self, module: str, depth: int, via: tuple[str, ...]) -> None:
        self._event("import", module, depth, via)
        category = reach_of(module)
        if category is not None:
            self._event(category, module, depth, via)

    def _assign(self, node: ast.Assign | ast.AnnAssign | ast.AugAssign, env: _Env) -> None:
        if isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                combined = ast.BinOp(
                    left=ast.Name(id=node.target.id, ctx=ast.Load()), op=node.op, right=node.value
                )
                self._bind(node.target.id, combined, env)
            return
        if node.value is None:
            return
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                self._bind(target.id, node.value, env)
            elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(
                node.value, (ast.Tuple, ast.List)
            ):
                for sub_target, sub_value in zip(target.elts, node.value.elts, strict=False):
                    if isinstance(sub_target, ast.Name):
                        self._bind(sub_target.id, sub_value, env)

    def _bind(self, name: str, value: ast.expr, env: _Env) -> None:
        env.aliases.pop(name, None)
        env.values.pop(name, None)
        known = self._try_eval(value, env, memo=False)
        if known is not None:
            env.values[name] = known
            return
        if isinstance(value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
            qualified = self._qualname(value, env)
            if qualified is not None:
                env.aliases[name] = qualified

    def _call(self, node: ast.Call, depth: int, via: tuple[str, ...], env: _Env) -> None:
        callee = self._qualname(node.func, env)
        if callee in _IMPORTERS:
            module = self._qualname(node, env)
            if module is None:
                self._event("dynamic-import", ast.unparse(node)[:200], depth, via)
            else:
                self._imported(module, depth, via)
            return
        if callee in _EXEC_SINKS:
            self._sink(node, callee, depth, via, env)
            return
        if callee in ("runpy.run_path", "runpy.run_module", "execfile"):
            self._event("exec-dynamic", f"{callee}(...)", depth, via)
            return
        if callee is not None and callee in DECODERS:
            self._event("decode", DECODERS[callee][0], depth, via)
            value = self._try_eval(node, env)
            if value is not None and isinstance(value.data, (str, bytes)):
                self._value_strings(value.data, depth, value.via)
            return
        if callee in {"codecs.decode", "codecs.encode"}:
            codec = self._codec_name(node, env)
            if codec:
                self._event("decode", codec, depth, via)
            return
        if callee in _OPENERS:
            mode = _argument(node, 1, "mode")
            mode_value = self._try_eval(mode, env) if mode is not None else None
            if mode_value is not None and isinstance(mode_value.data, str):
                if set(mode_value.data) & set("wax+"):
                    target = _argument(node, 0, "file")
                    shown = ast.unparse(target)[:120] if target is not None else "?"
                    self._event("file-write", f"{callee}({shown}, {mode_value.data!r})", depth, via)
            elif mode is not None:
                self._event("file-write", f"{callee}(..., mode not known)", depth, via)
            return
        if isinstance(node.func, ast.Attribute) and node.func.attr in _WRITE_METHODS:
            self._event("file-write", f".{node.func.attr}(...)", depth, via)
        self._value(node, depth, via, env)

    def _codec_name(self, node: ast.Call, env: _Env) -> str | None:
        arg = _argument(node, 1, "encoding")
        value = self._try_eval(arg, env) if arg is not None else None
        if value is None or not isinstance(value.data, str):
            return None
        try:
            label, kind = codec_kind(value.data)
        except Undecidable:
            return None
        return None if kind == "text" else label

    def _sink(self, node: ast.Call, sink: str, depth: int, via: tuple[str, ...], env: _Env) -> None:
        arg = _argument(node, 0, "source")
        if arg is None:
            return
        value = self._try_eval(arg, env)
        if value is None or not isinstance(value.data, (str, bytes)):
            decoders = [
                n
                for n in ast.walk(arg)
                if isinstance(n, ast.Call) and self._qualname(n.func, env) in ALL_DECODERS
            ]
            kind = "exec-decoded" if decoders else "exec-dynamic"
            self._event(kind, f"{sink}({ast.unparse(arg)[:200]})", depth, via)
            return
        layer_via = (*via, *value.via)
        if value.via:
            kind = "exec-decoded"
        elif value.assembled:
            kind = "exec-assembled"
        else:
            kind = "exec-literal"
        self._event(kind, f"{sink} of {' -> '.join(value.via) or 'a string'}", depth, via)
        if depth + 1 > MAX_DEPTH:
            self._event("limit", f"layers nested deeper than {MAX_DEPTH} not followed", depth, via)
            return
        data = value.data
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                self._event("syntax-error", "decoded payload is not UTF-8", depth + 1, layer_via)
                latin = data.decode("latin-1")
                self.events.extend(text_events(latin, depth + 1, layer_via, self.line))
                return
        else:
            text = data
        self.layers.append(
            Layer(
                depth=depth + 1,
                via=layer_via,
                sink=sink,
                text=text,
                size=len(data),
                line=self.line,
            )
        )
        memo = self._memo
        self.run(text, depth + 1, layer_via, env.copy())
        self._memo = memo

    # -- names ------------------------------------------------------------------------------

    def _qualname(self, node: ast.expr, env: _Env, level: int = 0) -> str | None:
        """The dotted name ``node`` refers to, or ``None`` when it cannot be known."""
        if level > _MAX_EXPR_DEPTH:
            return None
        if isinstance(node, ast.Name):
            name = env.aliases.get(node.id, node.id)
        elif isinstance(node, ast.Attribute):
            base = self._qualname(node.value, env, level + 1)
            if base is None:
                return None
            name = f"{base}.{node.attr}"
        elif isinstance(node, ast.Call):
            callee = self._qualname(node.func, env, level + 1)
            first = _argument(node, 0, "name")
            if callee in _IMPORTERS and first is not None:
                value = self._try_eval(first, env)
                if value is None or not isinstance(value.data, str):
                    return None
                fromlist = _argument(node, 3, "fromlist")
                if callee == "__import__" and fromlist is None:
                    return value.data.split(".")[0]
                return value.data
            if callee == "getattr" and len(node.args) >= 2:
                base = self._qualname(node.args[0], env, level + 1)
                attr = self._try_eval(node.args[1], env)
                if base is None or attr is None or not isinstance(attr.data, str):
                    return None
                name = f"{base}.{attr.data}"
            else:
                return None
        elif isinstance(node, ast.Subscript):
            base = self._qualname(node.value, env, level + 1)
            key = self._try_eval(node.slice, env)
            if base is None or key is None or not isinstance(key.data, str):
                return None
            if base == "sys.modules":
                return key.data
            if base in ("__builtins__", "builtins.__dict__", "__builtins__.__dict__"):
                return key.data
            return None
        else:
            return None
        for prefix in _BUILTIN_PREFIXES:
            if name.startswith(prefix):
                return name[len(prefix) :]
        return name

    # -- values -----------------------------------------------------------------------------

    def _try_eval(self, node: ast.expr | None, env: _Env, *, memo: bool = True) -> _Val | None:
        if node is None:
            return None
        key = id(node)
        if memo and key in self._memo:
            return self._memo[key]
        try:
            value: _Val | None = self._eval(node, env, 0)
        except Undecidable:
            value = None
        except (ValueError, TypeError, OverflowError, LookupError, binascii.Error):
            value = None
        except (zlib.error, lzma.LZMAError, OSError, EOFError):
            value = None
        if memo:
            self._memo[key] = value
        return value

    def _eval(self, node: ast.expr, env: _Env, level: int) -> _Val:
        if level > _MAX_EXPR_DEPTH:
            raise Undecidable
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, bytes, int)) and not isinstance(node.value, bool):
                return _Val(node.value)
            raise Undecidable
        if isinstance(node, ast.Name):
            if node.id in env.values:
                return env.values[node.id]
            raise Undecidable
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self._eval(elt, env, level + 1) for elt in node.elts]
            return _Val(
                tuple(item.data for item in items),
                via=_merge_via(items),
                assembled=any(i.assembled for i in items),
            )
        if isinstance(node, ast.BinOp):
            return self._binop(node, env, level)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self._eval(node.operand, env, level + 1)
            if isinstance(operand.data, int):
                return _Val(-operand.data if isinstance(node.op, ast.USub) else operand.data)
            raise Undecidable
        if isinstance(node, ast.JoinedStr):
            parts: list[str] = []
            vals: list[_Val] = []
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    parts.append(part.value)
                elif isinstance(part, ast.FormattedValue) and part.format_spec is None:
                    inner = self._eval(part.value, env, level + 1)
                    if not isinstance(inner.data, (str, int)):
                        raise Undecidable
                    vals.append(inner)
                    text = str(inner.data)
                    parts.append(repr(inner.data) if part.conversion == ord("r") else text)
                else:
                    raise Undecidable
            return _Val(capped("".join(parts)), via=_merge_via(vals), assembled=True)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, env, level)
        if isinstance(node, ast.Call):
            return self._eval_call(node, env, level)
        raise Undecidable

    def _binop(self, node: ast.BinOp, env: _Env, level: int) -> _Val:
        # Flatten left-deep chains ('a' + 'b' + 'c' + ...) without recursion.
        operands: list[ast.expr] = []
        current: ast.expr = node
        while isinstance(current, ast.BinOp) and isinstance(current.op, ast.Add):
            operands.append(current.right)
            current = current.left
        if operands:
            operands.append(current)
            operands.reverse()
            values = [self._eval(op, env, level + 1) for op in operands]
            datas = [v.data for v in values]
            if all(isinstance(d, str) for d in datas):
                joined: str | bytes = "".join(d for d in datas if isinstance(d, str))
            elif all(isinstance(d, bytes) for d in datas):
                joined = b"".join(d for d in datas if isinstance(d, bytes))
            else:
                raise Undecidable
            return _Val(capped(joined), via=_merge_via(values), assembled=True)
        if isinstance(node.op, ast.Mult):
            left = self._eval(node.left, env, level + 1)
            right = self._eval(node.right, env, level + 1)
            seq, count = (left, right.data) if isinstance(right.data, int) else (right, left.data)
            if not isinstance(count, int) or not isinstance(seq.data, (str, bytes)):
                raise Undecidable
            if count < 0 or len(seq.data) * count > MAX_OUTPUT:
                raise Undecidable
            return _Val(seq.data * count, via=seq.via, assembled=True)
        if isinstance(node.op, (ast.BitXor, ast.Sub)):
            left = self._eval(node.left, env, level + 1)
            right = self._eval(node.right, env, level + 1)
            if isinstance(left.data, int) and isinstance(right.data, int):
                if isinstance(node.op, ast.BitXor):
                    return _Val(left.data ^ right.data)
                return _Val(left.data - right.data)
        raise Undecidable

    def _subscript(self, node: ast.Subscript, env: _Env, level: int) -> _Val:
        base = self._eval(node.value, env, level + 1)
        if not isinstance(base.data, (str, bytes, tuple)):
            raise Undecidable
        if isinstance(node.slice, ast.Slice):
            bounds: list[int | None] = []
            for part in (node.slice.lower, node.slice.upper, node.slice.step):
                if part is None:
                    bounds.append(None)
                    continue
                bound = self._eval(part, env, level + 1).data
                if not isinstance(bound, int):
                    raise Undecidable
                bounds.append(bound)
            result = base.data[slice(*bounds)]
            via = base.via
            if bounds[2] is not None and bounds[2] < 0:
                via = (*via, "reversed")
            return _Val(result, via=via, assembled=base.assembled)
        index = self._eval(node.slice, env, level + 1).data
        if not isinstance(index, int) or not isinstance(base.data, (str, tuple)):
            raise Undecidable
        item = base.data[index]
        if not isinstance(item, (str, bytes, int)):
            raise Undecidable
        return _Val(item, via=base.via)

    def _eval_call(self, node: ast.Call, env: _Env, level: int) -> _Val:
        func = node.func
        # Methods of a known value: "sep".join(...), s.decode(), s.encode(), ...
        if isinstance(func, ast.Attribute):
            try:
                owner: _Val | None = self._eval(func.value, env, level + 1)
            except Undecidable:
                owner = None
            if owner is not None and isinstance(owner.data, (str, bytes)):
                return self._method(owner, func.attr, node, env, level)
        callee = self._qualname(func, env)
        if callee is None:
            raise Undecidable
        args = [self._eval(arg, env, level + 1) for arg in node.args]
        kwargs: dict[str, object] = {
            kw.arg: self._eval(kw.value, env, level + 1).data
            for kw in node.keywords
            if kw.arg is not None
        }
        if any(kw.arg is None for kw in node.keywords):
            raise Undecidable
        if callee in DECODERS:
            label, function = DECODERS[callee]
            if not args:
                raise Undecidable
            rest: list[object] = [arg.data for arg in args[1:]]
            return self._decoded(args[0], label, lambda d: function(as_ascii(d), rest, kwargs))
        if callee in ("codecs.decode", "codecs.encode") and args:
            codec = args[1].data if len(args) > 1 else kwargs.get("encoding", "utf-8")
            if not isinstance(codec, str):
                raise Undecidable
            if callee == "codecs.encode" and codec_kind(codec)[1] != "rot13":
                raise Undecidable
            return self._apply_codec(args[0], codec)
        if callee == "chr" and len(args) == 1 and isinstance(args[0].data, int):
            return _Val(chr(args[0].data), via=args[0].via)
        if callee in ("bytes", "bytearray") and args:
            data = args[0].data
            if isinstance(data, tuple) and all(isinstance(b, int) for b in data):
                return _Val(bytes(b for b in data if isinstance(b, int)), via=("byte-list",))
            if isinstance(data, str) and len(args) > 1 and isinstance(args[1].data, str):
                return _Val(data.encode(args[1].data), via=args[0].via)
            if isinstance(data, bytes):
                return _Val(data, via=args[0].via)
            raise Undecidable
        if callee == "str" and args:
            data = args[0].data
            if isinstance(data, bytes) and len(args) > 1 and isinstance(args[1].data, str):
                return _Val(text_decode(data, args[1].data), via=args[0].via)
            if isinstance(data, str):
                return args[0]
            raise Undecidable
        if callee in ("reversed", "list", "tuple") and len(args) == 1:
            data = args[0].data
            if isinstance(data, (str, bytes, tuple)):
                items = tuple(reversed(data)) if callee == "reversed" else tuple(data)
                added = ("reversed",) if callee == "reversed" else ()
                return _Val(items, via=(*args[0].via, *added))
            raise Undecidable
        raise Undecidable

    def _method(self, owner: _Val, method: str, node: ast.Call, env: _Env, level: int) -> _Val:
        data = owner.data
        if not isinstance(data, (str, bytes)):
            raise Undecidable
        if method == "join" and len(node.args) == 1:
            items = self._iterable(node.args[0], env, level + 1)
            pieces = [item.data for item in items]
            if isinstance(data, str) and all(isinstance(p, str) for p in pieces):
                joined: str | bytes = data.join(p for p in pieces if isinstance(p, str))
            elif isinstance(data, bytes) and all(isinstance(p, bytes) for p in pieces):
                joined = data.join(p for p in pieces if isinstance(p, bytes))
            else:
                raise Undecidable
            via = _merge_via(items)
            if any("chr-codes" in item.via for item in items):
                via = (*tuple(v for v in via if v != "chr-codes"), "chr-codes")
            return _Val(capped(joined), via=via, assembled=True)
        args = [self._eval(arg, env, level + 1).data for arg in node.args]
        if method == "decode" and isinstance(data, bytes):
            encoding = args[0] if args else "utf-8"
            if not isinstance(encoding, str) or codec_kind(encoding)[1] not in ("text", "escape"):
                raise Undecidable
            return self._apply_codec(owner, encoding)
        if method == "encode" and isinstance(data, str):
            encoding = args[0] if args else "utf-8"
            if not isinstance(encoding, str) or codec_kind(encoding)[1] != "text":
                raise Undecidable
            return _Val(data.encode(encoding), via=owner.via, assembled=owner.assembled)
        if method in ("strip", "lstrip", "rstrip", "lower", "upper", "swapcase", "title"):
            if not all(isinstance(a, (str, bytes)) for a in args):
                raise Undecidable
            result = getattr(data, method)(*args)
            return _Val(result, via=owner.via, assembled=owner.assembled)
        if method == "replace" and len(args) >= 2:
            if not all(isinstance(a, type(data)) for a in args[:2]):
                raise Undecidable
            old, new = args[0], args[1]
            if len(new) > len(old) and len(data) * max(1, len(new)) > MAX_OUTPUT:  # type: ignore[arg-type]
                raise Undecidable
            result = data.replace(old, new)  # type: ignore[arg-type]
            return _Val(capped(result), via=owner.via, assembled=True)
        raise Undecidable

    def _iterable(self, node: ast.expr, env: _Env, level: int) -> list[_Val]:
        """The items of a literal iterable, ``map(chr, [...])``, or ``(chr(c) for c in [...])``."""
        if isinstance(node, ast.Call):
            callee = self._qualname(node.func, env)
            if callee == "map" and len(node.args) == 2:
                mapper = self._qualname(node.args[0], env)
                codes = self._eval(node.args[1], env, level + 1)
                if mapper == "chr" and isinstance(codes.data, tuple):
                    return [_Val(chr(as_int(c)), via=("chr-codes",)) for c in codes.data]
                raise Undecidable
        if isinstance(node, (ast.GeneratorExp, ast.ListComp)) and len(node.generators) == 1:
            gen = node.generators[0]
            if gen.ifs or gen.is_async or not isinstance(gen.target, ast.Name):
                raise Undecidable
            source = self._eval(gen.iter, env, level + 1)
            if not isinstance(source.data, (tuple, str, bytes)):
                raise Undecidable
            if len(source.data) > _MAX_ITEMS:
                raise Undecidable
            out: list[_Val] = []
            inner = env.copy()
            for item in source.data:
                inner.values[gen.target.id] = _Val(item)  # type: ignore[arg-type]
                out.append(self._eval(node.elt, inner, level + 1))
            if any(isinstance(v.data, str) and len(v.data) == 1 for v in out):
                return [_Val(v.data, via=(*v.via, "chr-codes")) for v in out]
            return out
        value = self._eval(node, env, level + 1)
        if isinstance(value.data, tuple):
            return [_Val(item, via=value.via) for item in value.data]  # type: ignore[arg-type]
        if isinstance(value.data, (str, bytes)):
            return [_Val(value.data[i : i + 1], via=value.via) for i in range(len(value.data))]
        raise Undecidable

    def _apply_codec(self, source: _Val, codec: str) -> _Val:
        """``codecs.decode(source, codec)`` for the codecs that only transform data."""
        label, kind = codec_kind(codec)
        data = source.data
        if kind == "text":
            if not isinstance(data, bytes):
                raise Undecidable
            return _Val(text_decode(data, codec), via=source.via, assembled=source.assembled)
        if kind == "rot13":
            if not isinstance(data, str):
                raise Undecidable
            return self._decoded(source, label, lambda d: codecs.decode(d, "rot13"))
        if kind == "escape":
            return self._decoded(source, label, lambda d: as_latin1(d).decode(codec))
        function = CODEC_FUNCTIONS[label]
        return self._decoded(source, label, lambda d: function(as_ascii(d)))

    def _decoded(
        self, source: _Val, label: str, function: Callable[[str | bytes], str | bytes]
    ) -> _Val:
        """Apply a data-only decoder to ``source``, counting nesting, size and budget."""
        if len(source.via) >= MAX_DEPTH:
            self._event("limit", f"decoders nested deeper than {MAX_DEPTH}", 0, source.via)
            raise Undecidable
        if not isinstance(source.data, (str, bytes)):
            raise Undecidable
        self.consumed.add(hash(source.data))
        result = function(source.data)
        if len(result) > MAX_OUTPUT:
            self._event("limit", f"{label} output over {MAX_OUTPUT} bytes not followed", 0, ())
            raise Undecidable
        self.budget -= len(result)
        if self.budget < 0:
            self._event("limit", f"more than {MAX_BUDGET} bytes decoded; rest not followed", 0, ())
            raise Undecidable
        return _Val(result, via=(*source.via, label))


def _merge_via(values: list[_Val]) -> tuple[str, ...]:
    merged: list[str] = []
    for value in values:
        for label in value.via:
            if label not in merged:
                merged.append(label)
    return tuple(merged)


def _argument(node: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(node.args) > position and not isinstance(node.args[position], ast.Starred):
        return node.args[position]
    for kw in node.keywords:
        if kw.arg == keyword:
            return kw.value
    return None
