"""The text of the sealed launcher, ``python-guarded`` (installed beside the interpreter).

The launcher is a script run as ``python -S LAUNCHER ARGS``: it loads the gate, which arms
every check and then runs ``site.main()``, and runs the program as ``python`` would. Its
command line is python's, read as CPython's ``getopt`` reads it (short options, combined
``-uB``, attached ``-Wignore``/``-cCODE``, ``--``, the long options):

* no interpreter option (``python-guarded app.py``): the program runs in this process;
* interpreter options (``-u -X dev -W error -O -I ...``): they can only take effect when the
  interpreter starts, so the launcher starts it once more, before anything else ran, as
  ``python OPTIONS -S LAUNCHER --pthguard-relaunched=FLAGS PROGRAM ARGS``. ``FLAGS`` carries
  the two options that concern the launcher itself and that ``sys.flags`` does not show:
  ``x`` (skip the script's first line) and ``S`` (no ``site``: no startup code runs, so the
  gate has nothing to check). The marker ends the parsing: the relaunched launcher never
  starts the interpreter again;
* ``-h``, ``-V``, ``--help*``, ``--version`` and every bad option: python's own answer,
  ``python -S ARGS`` under the launcher's name (it exits before ``site`` would run).

Before the gate runs, nothing is imported from ``sys.path`` (``sys`` and ``posix`` are built
in) and the launcher's own directory leaves ``sys.path``.

Known differences from ``python``: ``sys.flags.no_site`` is 1 and ``sys.orig_argv`` shows
the relaunch; a relaunch costs one more bare interpreter start; what an interpreter says
while it starts (an invalid ``PYTHONWARNINGS`` value: "Invalid -W option ignored") is said
by both starts of a relaunch; a ``-`` inside a cluster of short options (``-u-``, which
CPython's getopt reads as a long option) is left to ``python -S`` itself, which then runs
the program without ``site``.
"""

from __future__ import annotations

from pthguard.gate.schema import EXIT_REFUSED

__all__ = ["RELAUNCH_MARK", "launcher_stub", "launcher_text"]

#: The first argument of a relaunched launcher (python itself rejects it as an option).
RELAUNCH_MARK = "--pthguard-relaunched="

# The script itself is a stub that runs the launcher's body, compiled by the target
# interpreter at install (``launcher.TAG.bin`` in the state directory): compiling the body
# at every start cost about 1.7 ms. @PYTHON@, @BODY_REPR@ (the compiled body's path), @ON_ERROR@
# (what the stub does when the body cannot load).
_STUB = r"""#!@PYTHON@ -S
# pthguard sealed launcher: verifies every startup file before site runs any of it.
# It runs its body, compiled at install; see pthguard/environment/launcher.py.
def _pthguard_load():
    import marshal  # built in: nothing comes from sys.path before the gate ran

    try:
        with open(@BODY_REPR@, "rb") as f:
            code = marshal.loads(f.read())
        if type(code) is not type(_pthguard_load.__code__):
            raise ValueError("not a compiled launcher")
        return code
    except Exception as e:
        import sys

@ON_ERROR@

exec(_pthguard_load())
"""

# The launcher's body, with @PYTHON@ (the interpreter's path), @LOAD@ (the gate's loader,
# indented for the body of a ``try`` at 12 spaces), @ON_ERROR@ (what a gate that cannot load
# does) and @MORE@ (the less used half, compiled only by the starts that need it). A raw
# string: the body is this text verbatim, compiled with the launcher's path as file name
# (its frames leave tracebacks by that name).
_TEMPLATE = r"""# pthguard sealed launcher: verifies every startup file before site runs any of it.
# It takes python's command line; see pthguard/environment/launcher.py.
def _pthguard_launch():  # a function: nothing of the launcher stays in __main__
    import sys  # built in: nothing comes from sys.path before the gate ran

    g = sys.modules["__main__"].__dict__
    here, me, args = g.pop("__file__", None), sys.argv[0], sys.argv[1:]
    # what python sets for the launcher it sets for a script: __file__, __cached__ < 3.15
    script = {"__file__": None, **({"__cached__": None} if "__cached__" in g else {})}
    for name in ("__cached__", "_pthguard_launch", "_pthguard_load"):
        g.pop(name, None)
    more = {}

    def less_used():
        if not more:
            more.update(sys=sys, python=@PYTHON_REPR@, mark="@MARK@", me=me)
            exec(compile(more_source, here, "exec"), more)
        return more

    def gate():  # its own names: the loader's are not the launcher's
        try:
@LOAD@        except Exception as e:
@ON_ERROR@
    more_source = r'''@MORE@'''
    first = args[0] if args else ""
    if first in ("-c", "-m") and len(args) > 1:
        kind, value, rest, flags = first, args[1], args[2:], ""
    elif first in ("", "-"):
        kind, value, rest, flags = first, None, args[1:], ""
    elif first[0] != "-":
        kind, value, rest, flags = "file", first, args[1:], ""
    else:  # interpreter options (started again with them), -h, -V, a bad option, a relaunch
        kind, value, rest, flags = less_used()["command_line"](args)
    safe = sys.flags.isolated or getattr(sys.flags, "safe_path", False)
    if not safe and sys.path:
        del sys.path[0]  # the launcher's own directory
    if "S" not in flags:  # -S: no site, so no startup code to check
        gate()
    import os

    g["__loader__"] = sys.modules["_frozen_importlib"].BuiltinImporter
    hook = sys.excepthook

    def excepthook(kind, value, tb):  # a traceback starts where the program starts
        while tb is not None and tb.tb_frame.f_code.co_filename == here:
            tb = tb.tb_next
        if isinstance(value, BaseException):
            value.__traceback__ = tb  # what python's own hook prints
        hook(kind, value, tb)

    sys.excepthook = excepthook
    if kind == "-c":
        sys.argv = ["-c", *rest]
        if not safe:
            sys.path.insert(0, "")
        source = value + "\n"
        if sys.version_info >= (3, 14) and ("\n" + source).count("\n ") + source.count("\t"):
            source = less_used()["dedent"](source)  # python dedents -c code from 3.14 on
        code = source  # exec() of the text: compile() first builds the ast module's types
        if sys.version_info >= (3, 13):  # python keeps -c code for its tracebacks
            import linecache

            key = "<string>"
            if hasattr(linecache, "_interactive_cache"):  # keyed by the code object
                code = key = compile(source, "<string>", "exec", dont_inherit=True)
            linecache._register_code(key, source, "<string>")
        exec(code, g)
    elif kind == "-m":
        import runpy

        sys.argv = ["-m", *rest]
        if not safe:
            sys.path.insert(0, os.getcwd())
        runpy._run_module_as_main(value)
    elif kind == "file":
        sys.argv = [value, *rest]
        path = os.path.abspath(value)
        for path_hook in sys.path_hooks:  # a directory or zip file: its __main__ module
            try:
                path_hook(path)
            except ImportError:
                continue
            import runpy

            sys.path.insert(0, path)
            return runpy._run_module_as_main("__main__", False)
        if not safe:
            sys.path.insert(0, os.path.dirname(os.path.realpath(value)))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            err = "%s: can't open file %r: [Errno %d] %s\n" % (me, path, exc.errno, exc.strerror)
            sys.stderr.write(err)
            raise SystemExit(2) from None
        if "x" in flags:  # -x: skip the first line, keep the line numbers
            data = data[data.index(b"\n") :] if b"\n" in data else b""
        g.update(script, __file__=path)
        if path.endswith(".pyc"):
            code = less_used()["compiled"](data, g, path)
        else:
            loader = sys.modules["_frozen_importlib_external"].SourceFileLoader
            g["__loader__"] = loader("__main__", path)
            code = compile(data, path, "exec", dont_inherit=True)
        exec(code, g)
    else:
        less_used()["standard_input"](kind, rest, g, script, safe)


_pthguard_launch()
"""

# The less used half of the launcher (it runs with ``sys``, ``python``, ``mark`` and ``me``).
_MORE = r"""import posix  # built in


def command_line(args):
    # python's own answer to -h, -V and bad options; else the interpreter started again
    # with the options given, before anything ran; or, so started, what the program is
    relaunched = args[0].startswith(mark) and len(sys.orig_argv) > len(sys.argv) + 2
    parsed = parse(args[1:] if relaunched else args)
    if parsed is None or (relaunched and parsed[0]):
        posix.execv(python, [me, "-S", *args])
    opts, flags, kind, value, rest = parsed
    if relaunched:
        return kind, value, rest, args[0][len(mark) :]
    if not opts:  # "--" alone, or "-cCODE": nothing for the interpreter
        return kind, value, rest, flags
    program = {"-c": ["-c", value], "-m": ["-m", value], "file": ["--", value], "-": ["-"]}
    program[""] = []
    posix.execv(python, [python, *opts, "-S", me, mark + flags, *program[kind], *rest])


def parse(args):
    # python's command line as CPython's getopt reads it: (options, the flags x and S,
    # program kind, value, arguments), or None where python answers and exits
    noarg = "bBdEiIOqRsStuvx" + ("P" if sys.version_info >= (3, 11) else "")
    opts, flags, i = [], "", 0
    while i < len(args):
        word = args[i]
        if word[:1] != "-" or word == "-":
            break
        i += 1
        if word == "--":
            break
        if word[:2] == "--":
            if word != "--check-hash-based-pycs" or args[i : i + 1] not in (
                ["always"],
                ["never"],
                ["default"],
            ):
                return None  # --help, --version, --help-*, a bad one
            opts += [word, args[i]]
            i += 1
            continue
        for j, c in enumerate(word[1:], 2):
            if c in "cmWX":
                value = word[j:]
                if not value:
                    if i == len(args):
                        return None  # "Argument expected"
                    value = args[i]
                    i += 1
                if c in "cm":
                    if j > 2:
                        opts.append(word[: j - 1])
                    return opts, flags, "-" + c, value, args[i:]
                opts += [word] if word[j:] else [word, value]
                break
            if c not in noarg:
                return None  # -h, -V, -?, an unknown option
            if c in "xS":
                flags += c
        else:
            opts.append(word)
    if i == len(args):
        return opts, flags, "", None, []
    if args[i] == "-":
        return opts, flags, "-", None, args[i + 1 :]
    return opts, flags, "file", args[i], args[i + 1 :]


def dedent(source):
    # -c code from 3.14 on: the common leading spaces and tabs of its lines go, and lines
    # of spaces and tabs only become empty (CPython's _PyUnicode_Dedent)
    lines = source.split("\n")
    margin = None
    for line in lines:
        body = line.lstrip(" \t")
        if body:
            indent = line[: len(line) - len(body)]
            margin = indent if margin is None else margin
            while not indent.startswith(margin):
                margin = margin[:-1]
    if not margin:
        return source
    return "\n".join(line[len(margin) :] if line.lstrip(" \t") else "" for line in lines)


def compiled(data, g, path):
    # a .pyc given as the script
    external = sys.modules["_frozen_importlib_external"]
    if data[:4] != external.MAGIC_NUMBER:
        raise RuntimeError("Bad magic number in .pyc file")
    g["__loader__"] = external.SourcelessFileLoader("__main__", path)
    return __import__("marshal").loads(data[16:])


def standard_input(kind, rest, g, script, safe):
    # no program, or "-": the prompt on a terminal, else the program read from stdin
    import os

    sys.argv = [kind, *rest]
    if not safe:
        sys.path.insert(0, "")
    if sys.flags.inspect and kind == "":
        return  # -i: python's own prompt follows
    if sys.stdin is not None and sys.stdin.isatty():
        import code

        startup = None if sys.flags.ignore_environment else os.environ.get("PYTHONSTARTUP")
        if startup:
            try:
                with open(startup, "rb") as f:
                    exec(compile(f.read(), startup, "exec", dont_inherit=True), g)
            except Exception:
                sys.excepthook(*sys.exc_info())
        banner = "Python %s on %s\n" % (sys.version, sys.platform) + (
            'Type "help", "copyright", "credits" or "license" for more information.'
        )
        code.interact(banner="" if sys.flags.quiet else banner, local=g, exitmsg="")
        return
    g.update(script, __file__="<stdin>")
    data = sys.stdin.buffer.read() if sys.stdin is not None else b""
    exec(compile(data, "<stdin>", "exec", dont_inherit=True), g)
    for name in script:
        g.pop(name, None)
"""


def launcher_stub(*, python: str, body: str, mode: str) -> bytes:
    """The launcher script: it runs the compiled body at ``body``; when that cannot load,
    ``enforce`` refuses to start (exit 78) and ``warn`` warns and runs the plain
    interpreter with the same arguments, each naming the command that shows what is wrong."""
    status = f"run `pthguard status --python {python}`"
    what = "the sealed launcher cannot load its compiled body"
    if mode == "enforce":
        head = f"pthguard: refusing to start: {what}"
        after = f"import posix; posix._exit({EXIT_REFUSED})"
    else:
        head = f"pthguard: warning: {what}"
        after = f"import posix; posix.execv({python!r}, [{python!r}, *sys.argv[1:]])"
    on_error = (
        f"        sys.stderr.write({head!r} + ' (%s: %s); ' % (type(e).__name__, e)"
        f" + {status + chr(10)!r})\n"
        "        sys.stderr.flush()\n"
        f"        {after}\n"
    )
    return (
        _STUB.replace("@PYTHON@", python)
        .replace("@BODY_REPR@", repr(body))
        .replace("@ON_ERROR@", on_error.rstrip("\n"))
        .encode()
    )


def launcher_text(*, python: str, load: str, mode: str) -> str:
    """The launcher's body for ``python``: ``load`` is the gate's loader indented by 12 spaces;
    when it raises, ``enforce`` refuses to start (exit 78) and ``warn`` warns and runs
    ``site`` unchecked, each naming the command that shows what is wrong."""
    return (
        _TEMPLATE.replace("@PYTHON_REPR@", repr(python))
        .replace("@PYTHON@", python)
        .replace("@MARK@", RELAUNCH_MARK)
        .replace("@LOAD@", load)
        .replace("@ON_ERROR@", _on_error(python, mode))
        .replace("@MORE@", _MORE)
    )


def _on_error(python: str, mode: str) -> str:
    status = f"run `pthguard status --python {python}`"
    if mode == "enforce":
        head = "pthguard: refusing to start: the startup gate cannot load"
        after = f"__import__('os')._exit({EXIT_REFUSED})"
    else:
        head = "pthguard: warning: the startup gate cannot load"
        after = "__import__('site').main()"
    return (
        f"            sys.stderr.write({head!r} + ' (%s: %s); ' % (type(e).__name__, e)"
        f" + {status + chr(10)!r})\n"
        "            sys.stderr.flush()\n"
        f"            {after}\n"
    )
