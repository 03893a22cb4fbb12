"""Lets the lessons ``import inferlab`` where the course library is not installed (a hub
image, a clone by nbgitpuller): a notebook's kernel starts in this folder, so Python finds
this package first, and it loads the real library from ``../lib/inferlab`` in its place.
Where the library is installed from this same folder (``make lab``), the two are the same;
where this folder was copied without ``../lib`` (the browser tests do), the installed
library is used.
"""
import importlib.util as _util
import os as _os
import sys as _sys


def _spec():
    here = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))  # lessons/
    real = _os.path.join(_os.path.dirname(here), "lib", "inferlab", "__init__.py")
    if _os.path.exists(real):
        return _util.spec_from_file_location("inferlab", real,
                                             submodule_search_locations=[_os.path.dirname(real)])
    saved, shim = _sys.path[:], _sys.modules.pop("inferlab", None)
    _sys.path[:] = [p for p in saved if _os.path.abspath(p or _os.curdir) != here]
    try:
        spec = _util.find_spec("inferlab")
    finally:
        _sys.path[:] = saved
        if shim is not None:
            _sys.modules["inferlab"] = shim
    if spec is None:
        raise ModuleNotFoundError("No module named 'inferlab': install the course library, or "
                                  "open the lessons inside a copy of the whole course",
                                  name="inferlab")
    return spec


_spec = _spec()
_module = _util.module_from_spec(_spec)
_sys.modules["inferlab"] = _module  # the import statement returns this module, not the shim
_spec.loader.exec_module(_module)
