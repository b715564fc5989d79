"""pylint ``--init-hook`` of the lint stage: astroid stops at installed third-party packages.

Without it, checks that infer an attribute (``pd.read_csv``, ``LinearRegression().fit``) make
astroid parse pandas or scikit-learn source, most of a lint's time (about 1 s for a ten-line
notebook, 5 s for a realistic submission) spent on checks takehome disables anyway
(``no-member``, ``import-error``). A module whose top-level package is found in the
interpreter's site-packages is now treated like one in pylint's ``ignored-modules`` (inference
gives up, no message); the candidate's own modules and the standard library are analysed as
before.

Executed by pylint with ``exec`` before it lints (see ``checks_stage.py``); standard library and
astroid only. If astroid's internals change shape the hook does nothing and lint is only slower.
"""

import importlib.machinery
import os
import sysconfig


def _site_dirs() -> tuple[str, ...]:
    paths = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    return tuple(os.path.realpath(path) + os.sep for path in sorted(paths))


class ThirdPartyDenylist(set):
    """pylint's ignored modules, plus every module of a package installed in site-packages."""

    def __init__(self, ignored=(), site_dirs=None):
        super().__init__(ignored)
        self.site_dirs = _site_dirs() if site_dirs is None else tuple(site_dirs)
        self._installed = {}  # top-level name -> found in site-packages

    def __contains__(self, modname):
        if set.__contains__(self, modname):
            return True
        if not isinstance(modname, str) or not modname or modname.startswith("."):
            return False
        top = modname.partition(".")[0]
        if top not in self._installed:
            self._installed[top] = self._in_site_packages(top)
        return self._installed[top]

    def _in_site_packages(self, top):
        try:
            spec = importlib.machinery.PathFinder.find_spec(top)  # locates, imports nothing
        except (ImportError, ValueError):
            return False
        if spec is None:
            return False
        places = [spec.origin] if spec.origin else list(spec.submodule_search_locations or [])
        return bool(places) and all(
            os.path.realpath(place).startswith(self.site_dirs) for place in places
        )


def install():
    """Swap astroid's module denylist for a :class:`ThirdPartyDenylist` (kept entries)."""
    try:
        from astroid.manager import AstroidManager  # pylint: disable=import-outside-toplevel
    except ImportError:
        return
    brain = getattr(AstroidManager, "brain", None)
    if not isinstance(brain, dict) or not isinstance(brain.get("module_denylist"), set):
        return
    denylist = ThirdPartyDenylist(brain["module_denylist"])
    brain["module_denylist"] = denylist
    import astroid  # pylint: disable=import-outside-toplevel

    manager = getattr(astroid, "MANAGER", None)
    if manager is not None and hasattr(manager, "module_denylist"):
        manager.module_denylist = denylist


if __name__ in ("__main__", "takehome_lint_hook"):
    install()
