"""Lets the lessons ``import inferlab`` where the course library is not installed (a hub
image, a clone by nbgitpuller): a notebook's kernel starts in this folder, so Python finds
this package first, and it loads the real library from ``../lib/inferlab`` in its place.
Where the library is installed from this same folder (``make lab``), the two are the same.
"""
import importlib.util as _util
import os as _os
import sys as _sys

_real = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))),
                      "lib", "inferlab", "__init__.py")
_spec = _util.spec_from_file_location("inferlab", _real,
                                      submodule_search_locations=[_os.path.dirname(_real)])
_module = _util.module_from_spec(_spec)
_sys.modules["inferlab"] = _module  # the import statement returns this module, not the shim
_spec.loader.exec_module(_module)
