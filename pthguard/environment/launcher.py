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
"""

from __future__ import annotations

from pthguard.gate.schema import EXIT_REFUSED

__all__ = ["RELAUNCH_MARK", "launcher_text"]

#: The first argument of a relaunched launcher (python itself rejects it as an option).
RELAUNCH_MARK = "--pthguard-relaunched="

# The launcher, with @PYTHON@ (the interpreter's path), @LOAD@ (the gate's loader, indented
# for the body of ``gate``'s ``try``) and @ON_ERROR@ (what a gate that cannot load does).
_TEMPLATE = '''\
#!@PYTHON@ -S
# pthguard sealed launcher: verifies every startup file before site runs any of it.
# It takes python's options; see pthguard/environment/launcher.py.
def _pthguard_launch():  # a function: nothing of the launcher stays in __main__
    import sys, posix  # built in: nothing comes from sys.path before the gate ran

    def gate():
        try:
@LOAD@        except Exception as e:
@ON_ERROR@
    def parse(args):
        """python's command line: (options, flags, program kind, value, arguments)."""
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
                    ["always"], ["never"], ["default"]
                ):
                    return None  # --help, --version, --help-*, a bad one: python answers
                opts += [word, args[i]]
                i += 1
                continue
            for j, c in enumerate(word[1:], 2):
                if c in "cmWX":
                    value = word[j:]
                    if not value:
                        if i == len(args):
                            return None  # "Argument expected": python says it
                        value = args[i]
                        i += 1
                    if c in "cm":
                        if j > 2:
                            opts.append(word[: j - 1])
                        return opts, flags, "-" + c, value, args[i:]
                    opts += [word] if word[j:] else [word, value]
                    break
                if c not in noarg:
                    return None  # -h, -V, -?, an unknown option: python answers
                if c in "xS":
                    flags += c
            else:
                opts.append(word)
        if i == len(args):
            return opts, flags, "", None, []
        if args[i] == "-":
            return opts, flags, "-", None, args[i + 1 :]
        return opts, flags, "file", args[i], args[i + 1 :]

    python, me, args = @PYTHON_REPR@, sys.argv[0], sys.argv[1:]
    mark = "@MARK@"
    # a relaunch has options before "-S LAUNCHER"; the shebang line gives "-S" alone
    relaunched = bool(args) and args[0].startswith(mark)
    relaunched = relaunched and len(sys.orig_argv) > len(sys.argv) + 2
    parsed = parse(args[1:] if relaunched else args)
    if parsed is None or (relaunched and parsed[0]):
        posix.execv(python, [me, "-S", *args])  # python's own help, version or error
    opts, flags, kind, value, rest = parsed
    if relaunched:
        flags = args[0][len(mark) :]
    elif opts:  # they take effect only when the interpreter starts: start it once more
        program = {"-c": ["-c", value], "-m": ["-m", value], "file": ["--", value]}
        program.update({"-": ["-"], "": []})
        posix.execv(python, [python, *opts, "-S", me, mark + flags, *program[kind], *rest])
    safe = sys.flags.isolated or getattr(sys.flags, "safe_path", False)
    if not safe and sys.path:
        del sys.path[0]  # the launcher's own directory
    if "S" not in flags:
        gate()

    import os

    g = sys.modules["__main__"].__dict__
    launcher_file = g.pop("__file__", None)
    # what python set for the launcher, it sets for a script: __file__, and __cached__ < 3.15
    script = {"__file__": None, **({"__cached__": None} if "__cached__" in g else {})}
    for name in ("__cached__", "_pthguard_launch"):
        g.pop(name, None)
    g["__loader__"] = sys.modules["_frozen_importlib"].BuiltinImporter
    hook = sys.excepthook

    def excepthook(kind, value, tb):  # a traceback starts where the program starts
        while tb is not None and tb.tb_frame.f_code.co_filename == launcher_file:
            tb = tb.tb_next
        if isinstance(value, BaseException):
            value.__traceback__ = tb  # what python's own hook prints
        hook(kind, value, tb)

    sys.excepthook = excepthook
    if kind == "-c":
        sys.argv = ["-c", *rest]
        if not safe:
            sys.path.insert(0, "")
        source = value + "\\n"
        if sys.version_info >= (3, 14):  # python dedents -c code from 3.14 on
            lines = source.split("\\n")
            margin = None
            for line in lines:
                body = line.lstrip(" \\t")
                if body:
                    indent = line[: len(line) - len(body)]
                    margin = indent if margin is None else margin
                    while not indent.startswith(margin):
                        margin = margin[:-1]
            if margin:
                lines = [line[len(margin) :] if line.lstrip(" \\t") else "" for line in lines]
                source = "\\n".join(lines)
        code = compile(source, "<string>", "exec", dont_inherit=True)
        if sys.version_info >= (3, 13):  # python keeps -c code for its tracebacks
            import linecache

            key = code if hasattr(linecache, "_interactive_cache") else "<string>"
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
        importer = None
        for path_hook in sys.path_hooks:  # a directory or zip file: its __main__ module
            try:
                importer = path_hook(path)
                break
            except ImportError:
                pass
        if importer is not None:
            import runpy

            sys.path.insert(0, path)
            runpy._run_module_as_main("__main__", False)
            return
        if not safe:
            sys.path.insert(0, os.path.dirname(os.path.realpath(value)))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            sys.stderr.write(
                "%s: can't open file %r: [Errno %d] %s\\n" % (me, path, exc.errno, exc.strerror)
            )
            raise SystemExit(2)
        external = sys.modules["_frozen_importlib_external"]
        if "x" in flags:  # -x: skip the first line, keep the line numbers
            data = data[data.index(b"\\n") :] if b"\\n" in data else b""
        g.update(script, __file__=path)
        if path.endswith(".pyc"):
            import marshal

            if data[:4] != external.MAGIC_NUMBER:
                raise RuntimeError("Bad magic number in .pyc file")
            g["__loader__"] = external.SourcelessFileLoader("__main__", path)
            code = marshal.loads(data[16:])
        else:
            g["__loader__"] = external.SourceFileLoader("__main__", path)
            code = compile(data, path, "exec", dont_inherit=True)
        exec(code, g)
    else:
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
            banner = "Python %s on %s\\n" % (sys.version, sys.platform) + (
                'Type "help", "copyright", "credits" or "license" for more information.'
            )
            code.interact(banner="" if sys.flags.quiet else banner, local=g, exitmsg="")
        else:
            g.update(script, __file__="<stdin>")
            data = sys.stdin.buffer.read() if sys.stdin is not None else b""
            exec(compile(data, "<stdin>", "exec", dont_inherit=True), g)
            for name in script:
                g.pop(name, None)


_pthguard_launch()
'''


def launcher_text(*, python: str, load: str, mode: str) -> bytes:
    """The launcher for ``python``: ``load`` is the gate's loader indented by 12 spaces;
    when it raises, ``enforce`` refuses to start (exit 78) and ``warn`` warns and runs
    ``site`` unchecked, each naming the command that shows what is wrong."""
    return (
        _TEMPLATE.replace("@PYTHON_REPR@", repr(python))
        .replace("@PYTHON@", python)
        .replace("@MARK@", RELAUNCH_MARK)
        .replace("@LOAD@", load)
        .replace("@ON_ERROR@", _on_error(python, mode))
        .encode()
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
