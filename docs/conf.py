"""Sphinx configuration: the user guide (docs/*.md, MyST) and the API reference (docs/api/).

Build (warnings are errors, so a broken cross-reference in a docstring fails the build)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

The guide pages stay plain GitHub markdown: the navigation tree is added here at build time
(:func:`_guide_toctree`), not written into docs/index.md.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
import unicodedata
from pathlib import Path

from sphinx.util import logging

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the source tree, also when liegnn is not installed
sys.path.insert(0, str(DOCS))  # this file, as the module ``conf`` (myst_heading_slug_func)

import liegnn  # noqa: E402

logger = logging.getLogger(__name__)

project = "liegnn"
author = "the liegnn authors"
copyright = "the liegnn authors"
release = liegnn.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

root_doc = "index"
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = f"liegnn {release}"

# -- MyST: the guide's links are GitHub links (`page.md#a-heading-slug`) -----------------------
myst_heading_anchors = 3


def _github_slug(title: str) -> str:
    """GitHub's heading anchor: lower case; keeps letters, marks, digits, ``_``, ``-`` and spaces
    (so "A discrete symmetry: C₇" → ``a-discrete-symmetry-c``: ₇ is not a decimal digit)."""
    keep = "".join(
        c
        for c in title.strip().lower()
        if c in " -_" or unicodedata.category(c)[0] in "LM" or unicodedata.category(c) == "Nd"
    )
    return keep.replace(" ", "-")


# by import path: Sphinx pickles the parsed pages with their settings (docs/ is on sys.path)
myst_heading_slug_func = "conf._github_slug"
myst_enable_extensions = ["colon_fence"]

# -- autodoc / napoleon: docstrings are Google style (Args:, Returns:, Shapes:) ------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "fully-qualified"  # "~typing.Any" inside dict[...] does not parse
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_class_signature = "mixed"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_custom_sections = ["Shapes", "Shape"]  # PyG style: a list of input / output shapes

# -- nitpicky: every cross-reference must resolve ----------------------------------------------
# Only references into liegnn are checked. Types of other libraries (torch, numpy, PyG, e3nn,
# scipy, the standard library) are not documented here and there is no intersphinx (the build
# works offline), so their names are accepted as plain text.
nitpicky = True
_EXTERNAL = (
    "torch",
    "torch_geometric",
    "numpy",
    "np",
    "scipy",
    "e3nn",
    "pathlib",
    "os",
    "collections",
    "typing",
    "types",
    "argparse",
    "dataclasses",
    "json",
    "io",
    "tqdm",
    "matplotlib",
)
nitpick_ignore_regex = [
    (r"py:.*", rf"({'|'.join(re.escape(m) for m in _EXTERNAL)})(\..*)?"),
    (r"py:.*", r"(Tensor|Path|PathLike|Module|Parameter|Data|Batch|Figure|Axes|ndarray)"),
    # napoleon turns "x (int, optional)" into a type field; "optional" is not a type
    (r"py:class", r"optional"),
    # private names (a leading underscore) in signatures are deliberately not documented
    (r"py:.*", r"(.*\.)?_[A-Za-z]\w*"),
]


# -- plain-text math in docstrings ---------------------------------------------------------------
# Docstrings write |x|, |V| and |⟨J, R⟩_F| as plain text (they are read with help() too). In
# reST, |word| is a substitution reference, which fails the build; no docstring uses
# substitutions, so outside code (``...``, `...`, literal blocks, doctests) a bar is literal.
_CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")


def _literal_bars(app, what, name, obj, options, lines):
    literal_indent = None  # indentation of the paragraph that opened a literal block with "::"
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if literal_indent is not None and stripped and indent <= literal_indent:
            literal_indent = None
        if literal_indent is None and stripped and not stripped.startswith((">>>", "...")):
            parts = _CODE_SPAN.split(line)
            parts[::2] = [p.replace("|", r"\|") for p in parts[::2]]
            lines[i] = "".join(parts)
        if literal_indent is None and stripped.endswith("::"):
            literal_indent = indent


# -- the guide's navigation, from the links of docs/index.md -----------------------------------
def _guide_pages() -> list[str]:
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    pages = []
    for target in re.findall(r"\]\(([\w/]+)\.md\)", text):
        if target not in pages and target != "index":
            pages.append(target)
    return pages


def _guide_toctree(app, docname, source):
    """Append a hidden toctree to index.md at build time (GitHub shows the file unchanged)."""
    if docname == root_doc:
        entries = "\n".join(_guide_pages())
        source[0] += f"\n\n```{{toctree}}\n:hidden:\n:maxdepth: 2\n\n{entries}\n```\n"


# -- references to a submodule path or to a short name -----------------------------------------
# Docstrings name objects where they are defined (``liegnn.nullspace.equivariant_basis``) or by
# a short name from their own module (``solve_metric``); the reference documents each object once,
# under its public name (``liegnn.equivariant_basis``). A reference that Python's domain cannot
# find is resolved to the documented object that *is* the same Python object, or else to the one
# documented object with that name. A real liegnn object that the reference leaves out (a private
# helper, an internal module) stays as text (`sphinx-build -v` lists them); a name that exists
# nowhere stays an error.
def _import(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


_DOCUMENTED: dict[int, tuple[dict[int, str], dict[str, list[str]]]] = {}


def _documented(env) -> tuple[dict[int, str], dict[str, list[str]]]:
    """Documented objects by ``id`` of the Python object, and their names by last component."""
    objects = env.get_domain("py").objects
    if len(objects) in _DOCUMENTED:
        return _DOCUMENTED[len(objects)]
    by_id: dict[int, str] = {}
    by_tail: dict[str, list[str]] = {}
    for name, entry in objects.items():
        if entry.aliased:  # the ``:canonical:`` name of an object documented under another
            continue
        obj = _import(name)
        if obj is not None and not isinstance(obj, int | float | str | bool | tuple | type(None)):
            by_id.setdefault(id(obj), name)
        by_tail.setdefault(name.rsplit(".", 1)[-1], []).append(name)
    _DOCUMENTED.clear()
    _DOCUMENTED[len(objects)] = by_id, by_tail
    return by_id, by_tail


def _docstring_module(node) -> str | None:
    """The module that defines the object whose docstring holds ``node`` (autodoc's source)."""
    match = re.search(r"docstring of ([\w.]+)", node.source or "")
    obj = _import(match.group(1)) if match else None
    return getattr(obj, "__module__", None) or getattr(obj, "__name__", None)


def _resolve_alias(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    if target.split(".")[0] in _EXTERNAL:
        return None
    by_id, by_tail = _documented(env)
    candidates = [target]
    for module in (node.get("py:module"), _docstring_module(node)):
        if module:
            candidates.append(f"{module}.{target}")
    found = None
    for dotted in candidates:
        obj = _import(dotted) if dotted.split(".")[0] == "liegnn" else None
        if obj is not None:
            found = found or dotted
            if id(obj) in by_id:
                name = by_id[id(obj)]
                break
    else:
        names = by_tail.get(target.rsplit(".", 1)[-1], [])
        names = [n for n in names if n.endswith("." + target)]
        if len(names) != 1:
            # A real liegnn object that the reference does not document (a private helper, an
            # internal module): the name stays as text. A name that does not exist is an error.
            if found:
                logger.verbose("reference to undocumented %s kept as text", found, location=node)
                return contnode
            return None
        name = names[0]
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], name, node, contnode
    )


# -- docstrings inherited from other libraries ---------------------------------------------------
# A method without its own docstring (LieGNNConv.message) inherits PyG's or torch's, written for
# their Sphinx setup; only liegnn's own docstrings are shown.
def _drop_foreign_inherited(app, what, name, obj, options, lines):
    if what not in ("method", "attribute", "property") or "." not in name:
        return
    owner_name, member = name.rsplit(".", 1)
    owner = _import(owner_name)
    if not isinstance(owner, type):
        return
    for base in owner.__mro__:
        attr = base.__dict__.get(member)
        if attr is not None and getattr(attr, "__doc__", None):
            if not base.__module__.startswith("liegnn"):
                lines[:] = []
            return


# -- dataclass signatures -----------------------------------------------------------------------
# A field with a default_factory shows as "=<factory>", which is not Python: the signature parser
# then splits "dict[str, list]" at the comma. Show the factory's call instead ("=dict()").
def _dataclass_factories(app, what, name, obj, options, signature, return_annotation):
    if not signature or "<factory>" not in signature or not dataclasses.is_dataclass(obj):
        return None
    for f in dataclasses.fields(obj):
        if f.init and f.default_factory is not dataclasses.MISSING:
            call = getattr(f.default_factory, "__qualname__", "")
            call = f"{call}()" if call.isidentifier() else "..."
            signature = signature.replace("<factory>", call, 1)
    return signature, return_annotation


def setup(app):
    app.connect("autodoc-process-signature", _dataclass_factories)
    app.connect("autodoc-process-docstring", _drop_foreign_inherited, priority=400)
    app.connect("autodoc-process-docstring", _literal_bars, priority=600)  # after napoleon
    app.connect("source-read", _guide_toctree)
    app.connect("missing-reference", _resolve_alias)
