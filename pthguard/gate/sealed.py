"""The sealed launcher's part of the gate: arm every check, then run ``site.main()``.

Compiled with the hot half into the launcher's own blob (``gate-sealed.TAG.bin``, see
:mod:`pthguard.guard.gatebuild`), before :mod:`.hot`, whose last statement calls
:func:`_run_sealed` for ``_ROLE == "sealed"``: a launcher start of 3.10-3.14 loads no cold
code either. 3.15 (PEP 829's ``StartupState``) loads the cold half for its checks.
"""

# ruff: noqa: BLE001
# mypy: disable-error-code="no-untyped-def,attr-defined,name-defined"
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pthguard.gate.cold import _arm_customize, _check_pep829
    from pthguard.gate.hot import (
        _SEP,
        _STDLIB,
        _install_hooks,
        _internal_error,
        _need_cold,
        _start,
        _upfront,
    )
    from pthguard.gate.imports import _arm_imports
    from pthguard.gate.writes import _arm_writes
else:
    Any = object


def _stdlib_site() -> Any:
    """The ``site`` module from the standard library (frozen, or by its absolute path)."""
    if "site" in sys.modules:
        return sys.modules["site"]
    bootstrap = sys.modules["_frozen_importlib"]
    external = sys.modules["_frozen_importlib_external"]
    spec = bootstrap.FrozenImporter.find_spec("site")
    if spec is None:
        path = _STDLIB + _SEP + "site.py"
        spec = external.spec_from_file_location(
            "site", path, loader=external.SourceFileLoader("site", path)
        )
    module = bootstrap.module_from_spec(spec)
    sys.modules["site"] = module
    try:
        spec.loader.exec_module(module)  # under -S, site.main() does not run on import
    except BaseException:
        sys.modules.pop("site", None)
        raise
    return module


def _run_sealed() -> None:
    """``python -S`` launcher: arm every check, then run ``site.main()`` and the program."""
    state = None
    try:
        state, _ = _start()
        site = _stdlib_site()
        _arm_imports(state, site)
        _arm_writes(state)
        if hasattr(site, "StartupState"):
            _need_cold(state.seal)
            original_process = site.StartupState.process

            def process(self: Any) -> Any:
                if state.active:
                    try:
                        _check_pep829(state, self, set())
                    except Exception as exc:
                        _internal_error(state, exc)
                    try:
                        _upfront(state, site)
                    except Exception as exc:
                        _internal_error(state, exc)
                return original_process(self)

            site.StartupState.process = process

            def restore() -> None:
                site.StartupState.process = original_process

            _arm_customize(state, site, restore)
        else:
            _install_hooks(state, site)
        site.main()
    except Exception as exc:
        _internal_error(state, exc)
