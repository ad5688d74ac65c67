"""eager-load's decisions, on stdlib ``ast``: which loops over query rows read a lazy
relationship per row, and the ``selectinload`` option that loads it with the rows.

What the codemod does and why each rule holds is in ``codemods/eager_load.py``'s docstring
(``flaskfix explain eager-load``); this module proves each site and writes the plan.
"""

from __future__ import annotations

import ast
import re
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from flaskfix.codemods.ast_facts import dotted
from flaskfix.codemods.changes import Change
from flaskfix.codemods.index import PLAIN_RELATIONSHIP_KEYWORDS, Model, Relationship, _model, relationship_lazy
from flaskfix.codemods.plan import FilePlan, PlanInput, ReplaceCall
from flaskfix.codemods.plan.base import Planner
from flaskfix.codemods.plan.scopes import COMPREHENSIONS, FUNCTIONS, is_generator_function
from flaskfix.codemods.project import module_binding, sqlalchemy_call, sqlalchemy_model

ID = "eager-load"

#: query methods after which every row is still one instance of the query's model, in the same order
ROW_KEEPING = frozenset({"filter", "filter_by", "where", "order_by", "limit", "offset", "distinct", "join", "outerjoin",
                         "group_by", "having", "params", "execution_options"})
#: session methods that change what a lazy load would return (or expire what was loaded)
SESSION_WRITES = frozenset({"add", "add_all", "delete", "merge", "flush", "commit", "expire", "expire_all", "refresh",
                            "execute", "rollback", "expunge", "expunge_all", "bulk_save_objects", "close", "begin",
                            "begin_nested", "remove", "invalidate"})
#: calls that neither write nor take part in what the session loads
PURE_BUILTINS = frozenset({"len", "str", "int", "float", "bool", "list", "tuple", "dict", "set", "sorted", "sum", "min",
                           "max", "any", "all", "enumerate", "zip", "round", "abs", "repr", "isinstance", "getattr",
                           "format", "reversed", "range", "print"})
#: what reading a pagination does not change
PAGE_READS = frozenset({"items", "has_next", "has_prev", "total", "pages", "page", "per_page", "next_num", "prev_num"})
#: container methods on a local the function made (``out.append(...)``)
LOCAL_METHODS = frozenset({"append", "extend", "add", "update", "setdefault", "insert", "join", "format", "get", "items",
                           "keys", "values", "strip", "lower", "upper", "isoformat", "strftime"})
LAZY_REASONS = {
    "dynamic": "is lazy=\"dynamic\" (a query per read, which selectinload does not load)",
    "write_only": "is lazy=\"write_only\" (it cannot be loaded)",
    "raise": "is lazy=\"raise\" (reading it is meant to fail)",
    "raise_on_sql": "is lazy=\"raise_on_sql\" (reading it is meant to fail)",
    "noload": "is lazy=\"noload\" (it is never loaded)",
    "joined": "is already loaded eagerly (lazy=\"joined\")",
    "selectin": "is already loaded eagerly (lazy=\"selectin\")",
    "subquery": "is already loaded eagerly (lazy=\"subquery\")",
    "immediate": "is already loaded with its rows (lazy=\"immediate\")",
    "?": "has a lazy= flaskfix cannot read",
}


#: project -> model name -> its subclasses' names (the search reads every file mentioning the name)
_SUBCLASSES: "weakref.WeakKeyDictionary[object, dict[str, list[str]]]" = weakref.WeakKeyDictionary()
#: project -> class name -> (its model classes, all its module-level classes) in the project
_CLASSES: "weakref.WeakKeyDictionary[object, dict[str, tuple[list, list]]]" = weakref.WeakKeyDictionary()
#: project -> model name -> the relationships other models' ``backref=`` give it, each with the
#: model declaring it (read once per project, from the files that mention ``backref``)
_BACKREFS: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def _per_project(cache: "weakref.WeakKeyDictionary[object, dict]", project: object, key: object,
                 compute: "Callable[[], Any]") -> Any:
    """``compute()``, remembered in ``cache`` per project and ``key`` (a stand-in project that
    cannot be weakly referenced gets it computed each time)."""
    try:
        known = cache.setdefault(project, {})
    except TypeError:
        return compute()
    if key not in known:
        known[key] = compute()
    return known[key]


class Refused(Exception):
    def __init__(self, node: ast.AST, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message


@dataclass
class Rows:
    """Where the loop's rows come from: the query, its model, the node to insert the
    options after (``Model.query`` or ``select(Model)``)."""

    model: str
    info: Model
    anchor: ast.expr  # Model.query (an Attribute) or select(Model) (a Call)
    replace: ast.expr  # the node replaced by its text with the options inserted
    statement: ast.stmt  # where the query runs
    reads: dict[str, list[ast.Attribute]] = field(default_factory=dict)
    #: relationships the query's own .options() already load eagerly
    covered: set[str] = field(default_factory=set)
    #: relationship -> (its target model, a relationship of it read through it: ``c.post.author``)
    nested: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    #: the session the rows are read with, as written (``db.session``); None for ``Model.query``
    session: str | None = None
    #: lookups read through a relationship instead: (the call, the loop's item, the relationship)
    lookups: list[tuple[ast.Call, str, str]] = field(default_factory=list)


@dataclass
class Lookup:
    """A lookup of one object by a column of the loop's item: ``Customer.query.get(o.customer_id)``,
    ``Customer.query.filter_by(id=o.customer_id).first()``, ``db.session.get(Customer, o.customer_id)``."""

    call: ast.Call
    model: ast.Name  # the looked-up model, as written
    column: str  # the item's column holding the key
    session: str | None  # ``db.session`` for session.get, None for ``Model.query`` forms
    key: str | None = None  # filter_by's keyword


def plan(inp: PlanInput) -> FilePlan:
    # the cheap question first, before scopes are built: does the module query a model
    # (``X.query``, ``select(X)``) and loop at all?
    if ".query" not in inp.text and "select(" not in inp.text:
        return FilePlan()
    names = _queried_names(inp.text)
    if not names:
        return FilePlan()
    # attributes read on loop variables (``for p in ...: p.author``), from the text
    loop_vars = set(_LOOP_VAR.findall(inp.text))
    read = {a for v, a in _ATTRIBUTE.findall(inp.text) if v in loop_vars}
    if not read:
        return FilePlan()
    lookups = bool(_LOOKUP.search(inp.text))
    models = {name: found for name in sorted(names) if (found := model_class(inp, name)) is not None
              and (any(r.attr in read for r in found[2].relationships)
                   or any(r.attr in read for r, _ in backrefs(inp, found[1].name))
                   or lookups and any(attr in read for attr, _ in _foreign_keys(found[1], None)))}
    if not models:  # no queried model's relationship is read on a loop variable: nothing to load (no scopes built)
        return FilePlan()
    return EagerLoad(inp, models).run()


#: a lookup by key a relationship could answer (``X.query.get(``, ``.session.get(``, ``filter_by(...).first()``)
_LOOKUP = re.compile(r"\.get\(|\.first\(")
_LOOP_VAR = re.compile(r"\bfor\s+([A-Za-z_]\w*)\s+in\b")
_ATTRIBUTE = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)")
#: ``Model.query`` / ``select(Model)``: class names, so capitalised (``db.session.query`` is not one)
_QUERIED = re.compile(r"\b([A-Z]\w*)\s*\.\s*query\b|\bselect\(\s*([A-Z]\w*)\s*\)")


def backrefs(inp: PlanInput, model: str) -> list[tuple[Relationship, tuple[str, ast.ClassDef, Model]]]:
    """The relationships of ``model`` that other models declare with ``backref=`` (``posts =
    relationship("Post", backref="author")`` gives ``Post.author``), each with the model
    declaring it; read once per project from the files that mention ``backref``."""
    return _per_project(_BACKREFS, inp.project, None, lambda: _read_backrefs(inp)).get(model, [])


def _read_backrefs(inp: PlanInput) -> dict[str, list[tuple[Relationship, tuple[str, ast.ClassDef, Model]]]]:
    files = list(inp.project.files_mentioning("backref")) if inp.project.files else [inp.path]
    out: dict[str, list[tuple[Relationship, tuple[str, ast.ClassDef, Model]]]] = {}
    for path in files:
        tree = inp.tree if path == inp.path else inp.project.tree(path)
        for cls in (tree.body if tree is not None else []):
            if not isinstance(cls, ast.ClassDef) or "backref" not in ast.dump(cls):
                continue
            model = _model(cls)
            if model is None:
                continue
            for stmt in cls.body:
                found = _backref(stmt, cls.name)
                if found is not None:
                    target, rel = found
                    out.setdefault(target, []).append((rel, (path, cls, model)))
    return out


def _backref(stmt: ast.stmt, owner: str) -> tuple[str, Relationship] | None:
    """(the target's class name, the relationship its ``backref=`` declares on it) for
    ``x = relationship("Target", backref=...)`` in the body of class ``owner``."""
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or not isinstance(stmt.value, ast.Call):
        return None
    call = stmt.value
    if (dotted(call.func) or "").split(".")[-1] not in ("relationship", "relation") or not call.args:
        return None
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    given = kw.get("backref")
    if isinstance(given, ast.Constant) and isinstance(given.value, str):
        name, options = given.value, {}
    elif (isinstance(given, ast.Call) and (dotted(given.func) or "").split(".")[-1] == "backref" and given.args
          and isinstance(given.args[0], ast.Constant) and isinstance(given.args[0].value, str) and len(given.args) == 1
          and all(k.arg for k in given.keywords)):
        name, options = given.args[0].value, {k.arg: k.value for k in given.keywords}
    else:
        return None
    first = call.args[0]
    target = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else dotted(first)
    if not target:
        return None
    lazy = relationship_lazy(options.get("lazy"))
    uselist = options["uselist"].value if isinstance(options.get("uselist"), ast.Constant) else None
    secondary = "secondary" in kw or len(call.args) > 1
    # the reverse of a plain forward relationship, with plain options of its own
    plain = (len(call.args) == 1 and all(k in PLAIN_RELATIONSHIP_KEYWORDS | {"backref"} for k in kw)
             and all(k in PLAIN_RELATIONSHIP_KEYWORDS for k in options))
    return target.split(".")[-1], Relationship(name, owner, lazy, secondary, "order_by" in options, uselist,
                                               stmt.lineno, plain)


def model_class(inp: PlanInput, name: str) -> tuple[str, ast.ClassDef, Model] | None:
    """The model class module-level ``name`` of the module is (a class there, or one
    imported from the project); None when it is not one."""
    for stmt in inp.tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == name:
            model = _model(stmt)
            return (inp.path, stmt, model) if model is not None else None
    if not inp.project.files:
        return None
    found = module_binding(inp.project, inp.path, name)
    if found is None or not isinstance(found[1], ast.ClassDef):
        return None
    model = _model(found[1])
    return (found[0], found[1], model) if model is not None else None


def _queried_names(text: str) -> set[str]:
    """Names the module queries (``X.query``, ``select(X)``), when it also loops: from
    the text (a cheap question asked of every file; the tree confirms what it finds)."""
    if not re.search(r"\bfor\b", text):
        return set()
    return {a or b for a, b in _QUERIED.findall(text)}


class EagerLoad(Planner):
    ID = ID

    def __init__(self, inp: PlanInput, models: dict[str, tuple[str, ast.ClassDef, Model]]) -> None:
        super().__init__(inp)
        self._given = models

    def run(self) -> FilePlan:
        self._targets: dict[str, tuple[str, ast.ClassDef, Model] | None] = {}
        self._callees: dict[tuple[str, str], str | None] = {}
        #: (model classes, classes) of each name in the project, where a relationship's target was searched
        self._named: dict[str, tuple[int, list[ast.ClassDef]]] = {}
        self._models = self._given
        if not self._models:
            return self.out
        found: dict[int, Rows] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.For, *COMPREHENSIONS)):
                try:
                    self._loop(node, found)
                except Refused as why:
                    if not self.held_back([(why.node.lineno, why.node.lineno)]):  # type: ignore[attr-defined]
                        self.add_finding(why.node, why.message)
        for rows in found.values():
            self._edit(rows)
        return self.out

    # -- the project's models ------------------------------------------------------------

    def _rels(self, model: str, info: Model) -> dict[str, Relationship]:
        """``model``'s relationships: its body's, then those other models' ``backref=`` give it
        (the declaring model is then the relationship's target; a name given twice is dropped)."""
        out = {r.attr: r for r in info.relationships}
        given: dict[str, list[tuple[Relationship, tuple[str, ast.ClassDef, Model]]]] = {}
        for rel, declared in backrefs(self.inp, info.name):
            if rel.attr not in out:
                given.setdefault(rel.attr, []).append((rel, declared))
        for attr, found in given.items():
            if len(found) != 1:
                continue  # (SQLAlchemy would refuse the mapping)
            rel, declared = found[0]
            known = self._target(declared[1].name)
            if known is not None and (known[0], known[1].lineno) != (declared[0], declared[1].lineno):
                continue  # the name means another class here
            self._targets[declared[1].name] = declared
            out[attr] = rel
        return out

    def _subclasses(self, model: str) -> list[str]:
        """Model classes of the project that derive from ``model`` (searched in the files
        whose text mentions it; once per project and name)."""
        return _per_project(_SUBCLASSES, self.project, model, lambda: [
            node.name for _, tree in self._declaring(model, rf"class\s+\w+\s*\([^)]*\b{re.escape(model)}\b")
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and model in [(dotted(b) or "").split(".")[-1] for b in node.bases]])

    def _declaring(self, name: str, header: str) -> Iterator[tuple[str, ast.Module]]:
        """(path, tree) of the project files mentioning ``name`` whose text matches ``header``
        (only those are parsed)."""
        pattern = re.compile(header, re.MULTILINE)
        for path in list(self.project.files_mentioning(name)) if self.project.files else [self.inp.path]:
            text = self.inp.text if path == self.inp.path else self.project.text(path)
            if not text or not pattern.search(text):
                continue
            tree = self.inp.tree if path == self.inp.path else self.project.tree(path)
            if tree is not None:
                yield path, tree

    def _classes_named(self, name: str) -> tuple[list[tuple[str, ast.ClassDef, Model]], list[ast.ClassDef]]:
        """(the model classes, all module-level classes) named ``name`` in the project: only
        files whose text declares such a class are parsed; once per project and name."""
        def search() -> tuple[list[tuple[str, ast.ClassDef, Model]], list[ast.ClassDef]]:
            found, classes = [], []
            for path, tree in self._declaring(name, rf"^class\s+{re.escape(name)}\b"):
                for stmt in tree.body:
                    if isinstance(stmt, ast.ClassDef) and stmt.name == name:
                        classes.append(stmt)
                        if (model := _model(stmt)) is not None:
                            found.append((path, stmt, model))
            return found, classes

        return _per_project(_CLASSES, self.project, name, search)

    def _target(self, name: str) -> tuple[str, ast.ClassDef, Model] | None:
        """The model class a relationship names (``relationship("Author")``): a model this
        module uses, else the one project class of that name."""
        if name in self._models:
            return self._models[name]
        if name not in self._targets and (local := model_class(self.inp, name)) is not None:
            self._targets[name] = local
        if name not in self._targets and self.project.files:
            # most often defined (or imported) where the models that name it are
            for path in dict.fromkeys(p for p, _, _ in self._models.values()):
                found_here = module_binding(self.project, path, name)
                if found_here is not None and isinstance(found_here[1], ast.ClassDef):
                    model = _model(found_here[1])
                    if model is not None:
                        self._targets[name] = (found_here[0], found_here[1], model)
                        break
        if name not in self._targets and self.project.files:
            # SQLAlchemy resolves the name in the registry of mapped classes: the one model class
            # of that name in the project (a module need not import it to name it)
            found, classes = self._classes_named(name)
            if len(found) == 1:
                self._targets[name] = found[0]
            self._named[name] = (len(found), classes)
        if name not in self._targets:
            self._targets[name] = None
        return self._targets[name]

    # -- one loop ------------------------------------------------------------------------

    def _loop(self, loop: ast.AST, found: dict[int, Rows]) -> None:
        gens = [loop] if isinstance(loop, ast.For) else list(loop.generators)  # type: ignore[attr-defined]
        if len(gens) != 1 or not isinstance(gens[0].target, ast.Name):
            return
        gen = gens[0]
        item = gen.target.id
        body: list[ast.AST] = list(loop.body) if isinstance(loop, ast.For) else (  # type: ignore[attr-defined]
            [loop.key, loop.value] if isinstance(loop, ast.DictComp) else [loop.elt]) + list(getattr(gen, "ifs", []))  # type: ignore[attr-defined]
        reads = [n for part in body for n in ast.walk(part)
                 if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == item
                 and isinstance(n.ctx, ast.Load)]
        if not reads:
            return
        lookups = self._lookups(body, item, gen.target)
        func = self.scopes.enclosing_function(loop)
        try:
            rows = self._rows(gen.iter, loop, func)
        except Refused:
            if any(self._relationship_anywhere(r.attr) for r in reads):
                raise
            return  # no relationship read: not a candidate, whatever the query (a lookup stays bulk-query's)
        if rows is None:
            # not rows flaskfix can name: a finding only where they come from elsewhere (a
            # parameter, what a call returns) and a read is a relationship's name here
            elsewhere = self._elsewhere(gen.iter, func)
            read = next((r for r in reads if self._relationship_anywhere(r.attr)), None)
            if elsewhere is not None and read is not None:
                raise Refused(read, f"`{self.code(read)}`: the loop iterates {elsewhere}, not a query made in this "
                                    f"function, so flaskfix cannot tell whether `{read.attr}` is a lazy relationship of "
                                    "query rows, nor where a loader option would go: not rewritten")
            return
        rels = self._rels(rows.model, rows.info)
        wanted = [r for r in reads if r.attr in rels and r.attr not in rows.covered]
        owned = [(lk, rel) for lk in lookups if (rel := self._owner(rows, lk)) is not None]
        if not wanted:
            if not owned:
                return
            # only lookups a relationship answers: eager-load's when it proves the loop, else
            # bulk-query's (which fixes or refuses them on its own terms), so no finding here
            try:
                self._prove(rows, loop, item, func, [], owned[0][0].call, lookups)
            except Refused:
                return
        else:
            self._prove(rows, loop, item, func, wanted, wanted[0], lookups)
        first: ast.AST = wanted[0] if wanted else owned[0][0].call
        if self.held_back([(first.lineno, first.lineno)], [(rows.statement.lineno, rows.statement.lineno)]):
            return
        key = id(rows.anchor)
        if key in found:
            rows = found[key]
        else:
            found[key] = rows
        for read in sorted(wanted, key=lambda r: (r.lineno, r.col_offset)):
            rows.reads.setdefault(read.attr, []).append(read)
            nested = self._nested(rows.model, rels[read.attr], read)
            if nested is not None:
                rows.nested.setdefault(read.attr, set()).add(nested)
        for lk, rel in owned:
            if self.held_back([(lk.call.lineno, lk.call.end_lineno or lk.call.lineno)]):
                continue
            rows.lookups.append((lk.call, item, rel.attr))

    def _sole_binder(self, name: ast.Name, func: ast.AST | None) -> list[ast.AST] | None:
        """[what binds ``name``] when it is a local of ``func`` bound exactly once; else None."""
        if func is None:
            return None
        scope = self.scopes.scope_of(name)
        if scope is not func or self.scopes.resolve(name.id, scope) is not func:
            return None
        binders = self.scopes.binders(name.id, scope)
        return binders if len(binders) == 1 else None

    def _elsewhere(self, it: ast.expr, func: ast.AST | None) -> str | None:
        """``rows`` bound to a parameter of the loop's function, or once to what a call of a
        project or unknown function returns: said so; else None."""
        if isinstance(it, ast.Attribute) and it.attr == "items":
            it = it.value
        binders = self._sole_binder(it, func) if isinstance(it, ast.Name) else None
        if binders is None:
            return None
        if isinstance(binders[0], ast.arg):
            return f"`{it.id}`, a parameter of `{getattr(func, 'name', '?')}()`"
        assign = self.scopes.parent(binders[0])
        if (isinstance(assign, ast.Assign) and assign.targets == [binders[0]] and isinstance(assign.value, ast.Call)
                and isinstance(assign.value.func, (ast.Name, ast.Attribute)) and _query_root(assign.value) is None
                and not (isinstance(assign.value.func, ast.Name) and self.scopes.is_builtin(assign.value.func, assign.value.func.id))):
            return f"`{it.id}`, what `{self.short(assign.value.func)}()` returns"
        return None

    def _prove(self, rows: Rows, loop: ast.AST, item: str, func: ast.AST | None, wanted: list[ast.Attribute],
               first: ast.AST, lookups: list[Lookup]) -> None:
        """Refused unless loading ``wanted`` with the rows gives the same answers."""
        rels = self._rels(rows.model, rows.info)
        self._check_model(rows.model, first)
        lookup = f"`{self.short(first)}`"
        if isinstance(loop, ast.For) and func is not None and is_generator_function(func):
            raise Refused(first, f"{lookup}: the loop is in a generator function (it runs piece by piece): not rewritten")
        for read in wanted:
            rel = rels[read.attr]
            where = f"`{self.code(read)}`: `{rows.model}.{rel.attr}`"
            if rel.lazy != "select":
                raise Refused(read, f"{where} {LAZY_REASONS.get(rel.lazy, f'is lazy={rel.lazy!r}')}")
            scalar = self._scalar(rows.model, rel)
            if not scalar and not rel.order_by and not self._order_free(read):
                name = (rel.target or "").split(".")[-1]
                if scalar is None and self._target(name) is None:
                    many, classes = self._named.get(name, (0, []))
                    bases = ", ".join(f"`{dotted(b) or '?'}`" for b in classes[0].bases) if len(classes) == 1 else ""
                    found = (f"finds {many} model classes named `{name}`" if many > 1 else
                             f"does not read the class `{name}` (a subclass of {bases}) as a model" if len(classes) == 1 and bases
                             else f"cannot find the model class `{name}`")
                    raise Refused(read, f"{where}: flaskfix {found}, the relationship's target, so it cannot tell whether "
                                        "it is one object or a collection (and a collection without order_by has no "
                                        "promised order): not rewritten")
                if scalar is None:
                    raise Refused(read, f"{where}: flaskfix cannot tell whether it is one object or a collection (no "
                                        f"`ForeignKey` to its target's table among `{rows.model}`'s columns, and no uselist=), "
                                        "and a collection without order_by has no promised order: not rewritten")
                raise Refused(read, f"{where} is a collection without order_by: neither a lazy load nor selectinload "
                                    "promises its order, so flaskfix does not claim the same answer (len() of it is fine)")
        self._no_change_between(rows, loop, item, first, {id(n) for lk in lookups for n in ast.walk(lk.call)})

    # -- lookups a relationship answers (``Customer.query.get(o.customer_id)`` -> ``o.customer``) --

    def _lookups(self, body: list[ast.AST], item: str, target: ast.Name) -> list[Lookup]:
        """The loop's lookups of one object by a column of its item, in the three forms
        bulk-query also knows; none when the item is bound again in the loop."""
        scope = self.scopes.scope_of(target)
        out: list[Lookup] = []
        for part in body:
            for node in ast.walk(part):
                if isinstance(node, ast.Name) and node.id == item and isinstance(node.ctx, (ast.Store, ast.Del)):
                    return []
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)) or node.keywords:
                    continue
                func = node.func
                found: Lookup | None = None
                if func.attr == "get" and len(node.args) == 1 and (model := _query_of(func.value)) is not None:
                    found = Lookup(node, model, "", None)
                    key = node.args[0]
                elif (func.attr == "get" and len(node.args) == 2 and isinstance(node.args[0], ast.Name)
                      and isinstance(func.value, ast.Attribute) and func.value.attr == "session"
                      and isinstance(func.value.value, ast.Name)
                      and self.scopes.resolve(func.value.value.id, self.scopes.scope_of(func.value.value)) is self.tree):
                    found = Lookup(node, node.args[0], "", self.code(func.value))
                    key = node.args[1]
                elif (func.attr == "first" and not node.args and _method(func.value, "filter_by")
                      and not func.value.args and len(func.value.keywords) == 1  # type: ignore[attr-defined]
                      and func.value.keywords[0].arg  # type: ignore[attr-defined]
                      and (model := _query_of(func.value.func.value)) is not None):  # type: ignore[attr-defined]
                    inner = func.value
                    found = Lookup(node, model, "", None, inner.keywords[0].arg)  # type: ignore[attr-defined]
                    key = inner.keywords[0].value  # type: ignore[attr-defined]
                if (found is not None and isinstance(key, ast.Attribute) and isinstance(key.value, ast.Name)
                        and key.value.id == item and self.scopes.scope_of(key.value) is scope):
                    found.column = key.attr
                    out.append(found)
        return out

    def _owner(self, rows: Rows, lk: Lookup) -> "Relationship | None":
        """The relationship of the rows' model that answers ``lk`` with the same object: a
        plain many-to-one on exactly the looked-up column, to the looked-up model's primary
        key, read with the rows' session; None when flaskfix cannot prove one (the lookup
        then stays bulk-query's)."""
        looked = model_class(self.inp, lk.model.id)
        if looked is None or not self._is_model(lk.model):
            return None
        path, cls, model = looked
        info = self._info(path, cls)
        if info is None or info.problem is not None or info.base_kind != "flask" or model.query_class is not None:
            return None
        db_call = sqlalchemy_call(self.project, path, info.db_name) if self.project.files else _db_call_here(self.tree, info.db_name)
        if db_call is None or any(k.arg in ("query_class", "model_class") for k in db_call.keywords):
            return None  # a query class of its own may answer get() otherwise
        if lk.key is not None and lk.key != info.primary_key:
            return None
        if self._polymorphic(cls) or self._subclasses(cls.name):
            return None
        # the session: Model.query forms read with the model's db.session; session.get with the one named
        session = lk.session or f"{info.db_name}.session"
        if lk.session is not None:
            head = lk.session.split(".")[0]
            if not self._same_binding(head, path, info.db_name):
                return None
        if rows.session is not None and rows.session != session:
            return None
        if rows.session is None and lk.session is not None:
            owner = self._models[rows.model]
            owner_info = self._info(owner[0], owner[1])
            if owner_info is None or owner_info.base_kind != "flask" or not self._same_binding(lk.session.split(".")[0], owner[0], owner_info.db_name):
                return None
        # the relationship: plain, lazy, to this very class, on the one foreign key to its table
        _, owner_cls, _ = self._models[rows.model]
        table = _table_name(cls)
        keys = _foreign_keys(owner_cls, table)
        if len(keys) != 1 or keys[0] != (lk.column, _column_name(cls, info.primary_key)):
            return None
        candidates = []
        for rel in self._rels(rows.model, rows.info).values():
            target = self._target((rel.target or "").split(".")[-1]) if rel.target else None
            if target is not None and target[0] == path and target[1].name == cls.name:
                candidates.append(rel)
        if len(candidates) != 1:
            return None
        rel = candidates[0]
        if not rel.plain or rel.secondary or rel.uselist is True or rel.lazy != "select":
            return None
        return rel

    def _same_binding(self, name: str, path: str, other: str) -> bool:
        """Does module-level ``name`` here bind what ``other`` binds in project file ``path``?"""
        if path == self.inp.path and name == other:
            return True
        if not self.project.files:
            return False
        here, there = module_binding(self.project, self.inp.path, name), module_binding(self.project, path, other)
        return here is not None and there is not None and here[0] == there[0] and here[1].lineno == there[1].lineno

    def _info(self, path: str, cls: ast.ClassDef):  # type: ignore[no-untyped-def]
        """What the model class ``cls`` of ``path`` says about itself (``ModelInfo``)."""
        return sqlalchemy_model(self.inp.tree if path == self.inp.path else self.project.tree(path), cls.name)  # type: ignore[arg-type]

    def _polymorphic(self, cls: ast.ClassDef) -> bool:
        mapper = [s for s in cls.body if isinstance(s, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "__mapper_args__" for t in s.targets)]
        return bool(mapper) and "polymorphic" in ast.dump(mapper[0].value)

    def _nested(self, model: str, rel, read: ast.Attribute) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
        """``c.post.author``: (``Post``, ``author``) when ``c.post`` is one object of a model
        of this module whose ``author`` is a lazy relationship read in an order-free way."""
        parent = self.scopes.parent(read)
        if not (isinstance(parent, ast.Attribute) and parent.value is read and isinstance(parent.ctx, ast.Load)):
            return None
        target = (rel.target or "").split(".")[-1]
        found = self._target(target)
        if found is None or not self._scalar(model, rel):
            return None
        inner = self._rels(target, found[2]).get(parent.attr)
        if inner is None or inner.lazy != "select":
            return None
        if not (self._scalar(target, inner) or inner.order_by or self._order_free(parent)):
            return None
        return target, parent.attr

    def _relationship_anywhere(self, attr: str) -> bool:
        return any(r.attr == attr and r.lazy == "select" for name, (_, _, m) in self._models.items()
                   for r in self._rels(name, m).values())

    def _scalar(self, model: str, rel) -> bool | None:  # type: ignore[no-untyped-def]
        """Many-to-one (or uselist=False): one object, no order to keep. False: a
        collection (uselist=True, secondary=, or the foreign key is on the other side);
        None: flaskfix cannot tell."""
        if rel.uselist is False:
            return True
        if rel.uselist is True or rel.secondary:
            return False
        target = self._target((rel.target or "").split(".")[-1])
        owner = self._target(model)
        if target is None or owner is None:
            return None
        _, cls, _ = owner
        if _has_foreign_key_to(cls, _table_name(target[1])):
            return True
        # the foreign key on the target's side, to this model's table: one-to-many
        return False if _has_foreign_key_to(target[1], _table_name(cls)) else None

    def _order_free(self, read: ast.Attribute) -> bool:
        parent = self.scopes.parent(read)
        return (isinstance(parent, ast.Call) and parent.args == [read] and isinstance(parent.func, ast.Name)
                and parent.func.id == "len" and self.scopes.is_builtin(parent.func, "len"))

    # -- the rows ------------------------------------------------------------------------

    def _rows(self, it: ast.expr, loop: ast.AST, func: ast.AST | None) -> Rows | None:
        """The rows the loop iterates, when they are rows of a query flaskfix can name; a local's
        other uses before the loop ends refuse it only then (a dict a helper returned is not rows)."""
        problems: list[Refused] = []
        rows = self._rows_of(it, loop, func, problems)
        if rows is not None and problems:
            raise problems[0]
        return rows

    def _rows_of(self, it: ast.expr, loop: ast.AST, func: ast.AST | None, problems: list[Refused]) -> Rows | None:
        statement = self._statement(loop)
        value = it
        if isinstance(it, ast.Attribute) and it.attr == "items" and isinstance(it.value, ast.Name):
            value = self._local(it.value, loop, func, problems)
            if value is None or not _method(value, "paginate"):
                return None
            return self._query(value.func.value, self.scopes.parent(value))  # type: ignore[attr-defined,arg-type]
        if isinstance(it, ast.Name):
            value = self._local(it, loop, func, problems)
            if value is None:
                return None
            statement = self.scopes.parent(value)  # type: ignore[assignment]
        if _method(value, "all") and not value.args:  # type: ignore[attr-defined]
            value = value.func.value  # type: ignore[attr-defined]
        if _method(value, "scalars") and not value.args:  # db.session.execute(select(M)...).scalars()
            inner = value.func.value  # type: ignore[attr-defined]
            if _method(inner, "execute") and len(inner.args) == 1:  # type: ignore[attr-defined]
                return self._select(inner.args[0], statement, self.code(inner.func.value))  # type: ignore[attr-defined]
            return None
        if _method(value, "scalars") and len(value.args) == 1:  # type: ignore[attr-defined]
            return self._select(value.args[0], statement, self.code(value.func.value))  # type: ignore[attr-defined]
        return self._query(value, statement)

    def _statement(self, node: ast.AST) -> ast.stmt:
        cur: ast.AST | None = node
        while cur is not None and not isinstance(cur, ast.stmt):
            cur = self.scopes.parent(cur)
        assert cur is not None
        return cur

    def _local(self, name: ast.Name, loop: ast.AST, func: ast.AST | None, problems: list[Refused]) -> ast.expr | None:
        """The value of a local bound once by a plain assignment in the loop's function, used
        only as the loop's iterable (or in len()) until the loop ends."""
        binders = self._sole_binder(name, func)
        if binders is None:
            return None
        scope = self.scopes.scope_of(name)
        assign = self.scopes.parent(binders[0])
        if not (isinstance(assign, ast.Assign) and assign.targets == [binders[0]]):
            return None
        end = loop.end_lineno or loop.lineno  # type: ignore[attr-defined]
        for ref in self.scopes.references(name.id, scope):
            parent = self.scopes.parent(ref)
            if ref is name or ref.lineno > end:
                continue
            if isinstance(parent, ast.Attribute) and parent.attr == "items" and parent is self.scopes.parent(name):
                continue
            if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id == "len":
                continue
            if isinstance(parent, (ast.For, ast.comprehension)) and parent.iter is ref:
                continue  # iterated again (another loop over the same rows): iterating changes nothing
            if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not) or \
                    isinstance(parent, (ast.If, ast.While, ast.IfExp)) and parent.test is ref:
                continue  # a truth test reads nothing of the rows
            if (isinstance(parent, ast.Attribute) and isinstance(parent.ctx, ast.Load) and parent.attr in PAGE_READS
                    and (parent.attr != "items" or isinstance(self.scopes.parent(parent), (ast.For, ast.comprehension)))):
                continue  # a pagination's counts, or its items iterated again
            problems.append(Refused(name, f"the loop's rows `{name.id}` are also used (`{self.short(parent or ref)}`) "
                                          "before the loop ends, where they could be changed: not rewritten"))
            break
        return assign.value

    def _query(self, node: ast.expr, statement: ast.stmt) -> Rows | None:
        """``Model.query`` followed only by row-keeping methods (and a terminal
        ``paginate``/iteration): the rows' model."""
        found_covered: set[str] = set()
        cur = node
        while isinstance(cur, ast.Call) and isinstance(cur.func, ast.Attribute):
            method = cur.func.attr
            if method == "options":
                covered = self._loader_options(cur)
                if covered is not None:
                    found_covered |= covered
                    cur = cur.func.value
                    continue
            if method in ("options", "yield_per", "with_entities", "add_columns", "values", "from_self", "enable_eagerloads",
                          "populate_existing", "with_polymorphic", "select_from"):
                if method in ("options", "yield_per", "populate_existing", "with_polymorphic"):
                    base = _query_root(cur)
                    if base is not None and isinstance(base.value, ast.Name) and base.value.id in self._models:
                        raise Refused(cur, f"`{self.short(cur)}`: the query sets .{method}(), which flaskfix does "
                                           "not combine with a loader option: not rewritten")
                return None
            if method not in ROW_KEEPING and method != "paginate":
                return None
            cur = cur.func.value
        if not (isinstance(cur, ast.Attribute) and cur.attr == "query" and isinstance(cur.value, ast.Name)):
            return None
        model = cur.value.id
        if model not in self._models or not self._is_model(cur.value):
            return None
        replace = self.scopes.parent(cur)  # Model.query.<method> ... the call around it
        call = self.scopes.parent(replace) if replace is not None else None
        if not isinstance(call, ast.Call):
            return None
        return Rows(model, self._models[model][2], cur, call, statement, covered=found_covered)

    def _select(self, stmt: ast.expr, statement: ast.stmt, session: str) -> Rows | None:
        cur = stmt
        found_covered: set[str] = set()
        while isinstance(cur, ast.Call) and isinstance(cur.func, ast.Attribute):
            if cur.func.attr == "options" and (covered := self._loader_options(cur)) is not None:
                found_covered |= covered
            elif cur.func.attr in ("options", "execution_options"):
                if cur.func.attr == "options":
                    raise Refused(cur, f"`{self.short(cur)}`: the select sets .options(), which flaskfix does not "
                                       "combine with a loader option: not rewritten")
            elif cur.func.attr not in ROW_KEEPING:
                return None
            cur = cur.func.value
        if not (isinstance(cur, ast.Call) and len(cur.args) == 1 and not cur.keywords and isinstance(cur.args[0], ast.Name)):
            return None
        names = self.scopes.qualified_names(cur.func)
        if not (names & {"sqlalchemy.select", "sqlalchemy.sql.select", "sqlalchemy.future.select"}
                or (isinstance(cur.func, ast.Attribute) and cur.func.attr == "select")):
            return None
        model = cur.args[0].id
        if model not in self._models or not self._is_model(cur.args[0]):
            return None
        return Rows(model, self._models[model][2], cur, cur, statement, covered=found_covered, session=session)

    def _loader_options(self, call: ast.Call) -> set[str] | None:
        """The relationships ``.options(...)`` loads eagerly, when it holds only eager loader
        options of one relationship each (``selectinload(Post.author)``, ``joinedload``...)
        or column options (``load_only``, ``defer``); None for anything else (``lazyload``,
        ``raiseload``, wildcards...), which flaskfix does not combine with."""
        out: set[str] = set()
        loaders = {"selectinload", "joinedload", "subqueryload", "immediateload"}
        for arg in call.args:
            # selectinload(A.b).selectinload(B.c): the path starts with A.b
            while (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr in loaders
                   and isinstance(arg.func.value, ast.Call) and len(arg.args) == 1 and not arg.keywords):
                arg = arg.func.value
            if call.keywords or not isinstance(arg, ast.Call) or arg.keywords:
                return None
            names = self.scopes.qualified_names(arg.func)
            last = {n.split(".")[-1] for n in names if n.startswith("sqlalchemy.orm.")}
            if last & {"load_only", "defer", "undefer", "undefer_group"}:
                continue
            if not last & {"selectinload", "joinedload", "subqueryload", "immediateload"}:
                return None
            if len(arg.args) != 1 or not isinstance(arg.args[0], ast.Attribute):
                return None
            out.add(arg.args[0].attr)
        return out

    def _is_model(self, name: ast.Name) -> bool:
        """``name`` here is the module-level binding the model table was read from."""
        return self.scopes.resolve(name.id, self.scopes.scope_of(name)) is self.tree

    def _check_model(self, model: str, at: ast.AST) -> None:
        _, cls, info = self._models[model]
        if self._polymorphic(cls):
            raise Refused(at, f"`{model}` is mapped polymorphically (`__mapper_args__`): flaskfix does not prove the "
                              "loader option loads the same for every subclass")
        subclasses = self._subclasses(info.name)
        if subclasses:
            raise Refused(at, f"`{model}` has subclass `{subclasses[0]}` (inheritance): flaskfix does not prove the "
                              "loader option loads the same for every class")

    # -- what happens between the query and the reads --------------------------------------

    def _no_change_between(self, rows: Rows, loop: ast.AST, item: str, first: ast.AST, reads: set[int]) -> None:
        """Nothing between the query's execution and the loop's end may change what a lazy
        load would return: no attribute writes, no session writes or SQL, no unknown call
        given the rows, an item or the session. ``reads``: ids of lookup calls, which only read."""
        rels = set(self._rels(rows.model, rows.info))
        parts: list[ast.AST] = []
        stmt = self._statement(loop)
        block = self._block_of(stmt)
        if rows.statement is not stmt:
            if block is None or rows.statement not in block:
                raise Refused(first, f"`{self.short(first)}`: the rows are made in another block than the loop's, so "
                                     "flaskfix cannot follow what runs in between: not rewritten")
            parts += block[block.index(rows.statement) + 1: block.index(stmt)]
        # a comprehension: its whole statement (what else it runs may run first)
        parts.append(ast.Module(body=loop.body, type_ignores=[]) if isinstance(loop, ast.For) else stmt)
        for part in parts:
            for node in ast.walk(part):
                why = None if id(node) in reads else self._changes(node, item, rels)
                if why is not None:
                    raise Refused(first, f"`{self.short(first)}`: {why} between the query and the relationship reads "
                                         "(eager loading could give another answer): not rewritten")

    def _block_of(self, stmt: ast.stmt) -> list[ast.stmt] | None:
        parent = self.scopes.parent(stmt)
        for name in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(parent, name, None)
            if isinstance(block, list) and stmt in block:
                return block
        return None

    def _changes(self, node: ast.AST, item: str, rels: set[str]) -> str | None:
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                        return f"`{self.code(sub)}` is assigned"
            return None
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
            return "it yields or awaits (other code runs meanwhile)"
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in SESSION_WRITES and _sessionish(func.value):
                return f"`.{func.attr}()` is called on the session"
            if _db_write(node):  # (update()/delete() on a query included)
                return f"`.{func.attr}()` is called"
            if func.attr in LOCAL_METHODS and isinstance(func.value, (ast.Name, ast.Constant, ast.JoinedStr)) and \
                    not (isinstance(func.value, ast.Name) and func.value.id == item):
                return None
        if isinstance(func, ast.Name):
            if func.id == "setattr":
                return "`setattr()` is called"
            if func.id in PURE_BUILTINS and self.scopes.is_builtin(func, func.id):
                return None
            if self.scopes.qualified_names(func) & {"flask.jsonify", "flask.url_for", "flask.render_template",
                                                    "flask.abort", "flask.json.jsonify"}:
                return None
        args = [*node.args, *(k.value for k in node.keywords)]
        for a in args:
            for sub in ast.walk(a):
                if isinstance(sub, ast.Name) and sub.id == item and self._column_value(sub, rels):
                    continue  # `f(p.title)` is given a column's value, not the row
                if isinstance(sub, ast.Name) and (sub.id == item or _sessionish(sub)):
                    return f"`{self.short(node)}` is given `{sub.id}`, and flaskfix cannot tell what it does with it"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == item:
            return f"`{self.short(node)}` is a method call on the row, which flaskfix cannot follow"
        if isinstance(func, ast.Name):
            writes = self._writes_in(self.inp.path, func.id, 0)
            if writes is not None:
                return f"`{func.id}()` {writes}"
        return None

    def _column_value(self, name: ast.Name, rels: set[str]) -> bool:
        """``p.title``: an attribute of the row read for its value, not a relationship (an
        object a call could change) nor a method."""
        parent = self.scopes.parent(name)
        if not (isinstance(parent, ast.Attribute) and parent.value is name and isinstance(parent.ctx, ast.Load)):
            return False
        if parent.attr in rels or parent.attr.startswith("_"):
            return False  # (``p.__dict__``: the row's state itself)
        above = self.scopes.parent(parent)
        return not (isinstance(above, ast.Call) and above.func is parent)

    def _writes_in(self, path: str, name: str, depth: int) -> str | None:
        """What the project function ``name`` (bound at module level of ``path``) does to the
        session or the database, through its own body or a project function it calls (three
        deep); None when it does nothing of the kind, or is not a project function."""
        key = (path, name)
        if key in self._callees:
            return self._callees[key]
        self._callees[key] = None  # (recursion)
        found: tuple[str, ast.stmt] | None
        if self.project.files:
            found = module_binding(self.project, path, name)
        else:
            found = next(((path, s) for s in self.tree.body if isinstance(s, FUNCTIONS) and s.name == name), None)
        why = None
        if found is not None and isinstance(found[1], FUNCTIONS):
            where, fdef = found
            for node in ast.walk(fdef):
                if not isinstance(node, ast.Call):
                    continue
                if _db_write(node):
                    why = f"calls `{self.short(node.func)}()` (it may change what the session loads)"
                    break
                if isinstance(node.func, ast.Name) and depth < 3 and node.func.id != name:
                    inner = self._writes_in(where, node.func.id, depth + 1)
                    if inner is not None:
                        why = f"calls `{node.func.id}()`, which {inner}"
                        break
        self._callees[key] = why
        return why

    # -- the edit --------------------------------------------------------------------------

    def _edit(self, rows: Rows) -> None:
        loaded = list(rows.reads) + [a for _, _, a in rows.lookups if a not in rows.reads and a not in rows.covered]
        loaded = list(dict.fromkeys(loaded))
        if loaded:
            selectinload = self.scopes.expression_for("sqlalchemy.orm.selectinload")
            if selectinload is None:
                if "selectinload" in self.scopes.bound_names():
                    first = next(iter(rows.reads.values()))[0] if rows.reads else rows.lookups[0][0]
                    self.add_finding(first, "the rewrite needs `selectinload` from sqlalchemy.orm, and this module binds that "
                                            "name to something else")
                    return
                self.out.imports.append(("sqlalchemy.orm", "selectinload", None))
                selectinload = "selectinload"
            self._options(rows, loaded, selectinload)
        for call, item, attr in rows.lookups:
            self.out.edits.append(ReplaceCall(self.lines.span(call), f"{item}.{attr}", simple=True))
            if attr in rows.covered:  # (else said in the change that loads it)
                self.out.changes.append(Change(call.lineno, ID, self._read_as(rows, call, item, attr)
                                               + ", which the query already loads with the rows"))

    def _read_as(self, rows: Rows, call: ast.Call, item: str, attr: str) -> str:
        return (f"`{self.short(call)}` is read as `{item}.{attr}`: `{rows.model}.{attr}` is a many-to-one relationship "
                "on exactly that foreign key, so it is the same object (None where the key is NULL or has no row)")

    def _options(self, rows: Rows, loaded: list[str], selectinload: str) -> None:
        parts = []
        for attr in loaded:
            head = f"{selectinload}({rows.model}.{attr})"
            nested = sorted(rows.nested.get(attr, ()))
            parts += [f"{head}.{selectinload}({t}.{a})" for t, a in nested] or [head]
        options = ", ".join(parts)
        text = self.code(rows.replace)
        anchor = self.code(rows.anchor)
        assert text.startswith(anchor)
        self.out.edits.append(ReplaceCall(self.lines.span(rows.replace),
                                          f"{anchor}.options({options}){text[len(anchor):]}", simple=True))
        for attr in loaded:
            rel = f"`{rows.model}.{attr}`" + "".join(f" (and `{t}.{a}` through it)" for t, a in sorted(rows.nested.get(attr, ())))
            read = "".join(f"; {self._read_as(rows, call, item, a)}" for call, item, a in rows.lookups if a == attr)
            self.out.changes.append(Change(rows.statement.lineno, ID,
                                           f"{rel} is loaded with the rows by `selectinload` (one IN (...) query per 500 "
                                           f"rows, instead of one query per row read); it is loaded "
                                           f"for every row, also those a loop that stops early would not reach{read}"))

    def code(self, node: ast.AST) -> str:
        return self.lines.segment(node) or ast.unparse(node)

    def short(self, node: ast.AST) -> str:
        """The node's code on one line, cut to 60 characters (for messages)."""
        text = " ".join(self.code(node).split())
        return text if len(text) <= 60 else text[:57] + "..."


def _method(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name


def _query_root(node: ast.AST) -> ast.Attribute | None:
    cur = node
    while isinstance(cur, ast.Call) and isinstance(cur.func, ast.Attribute):
        cur = cur.func.value
    return cur if isinstance(cur, ast.Attribute) and cur.attr == "query" else None


#: method names that write, flush, expire or execute whatever they are called on
_WRITES_ANYWHERE = frozenset({"commit", "flush", "execute", "executemany", "merge", "delete", "expire", "expire_all", "refresh",
                              "rollback", "bulk_save_objects", "bulk_update_mappings", "bulk_insert_mappings", "add_all",
                              "expunge", "expunge_all", "invalidate"})
#: method names that do so on a session or a query (``seen.add(x)``, ``d.update()`` do not)
_WRITES_ON_SESSION = frozenset({"add", "update", "insert", "begin", "begin_nested", "close", "remove"})


def _db_write(call: ast.Call) -> bool:
    """Does ``call`` (in a helper the loop calls) write, flush, expire or execute SQL?"""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr in _WRITES_ANYWHERE:
        return True
    if func.attr not in _WRITES_ON_SESSION:
        return False
    return _sessionish(func.value) or any(isinstance(n, ast.Attribute) and n.attr == "query" for n in ast.walk(func.value))


def _sessionish(node: ast.AST) -> bool:
    text = dotted(node) or ""
    last = text.split(".")[-1]
    return last in ("session", "db_session", "Session") or last.endswith("session")


def _has_foreign_key_to(cls: ast.ClassDef, table: str) -> bool:
    """Does a column of ``cls``'s body hold ``ForeignKey("[schema.]<table>.<column>")``?"""
    return bool(_foreign_keys(cls, table))


def _foreign_keys(cls: ast.ClassDef, table: str | None) -> list[tuple[str, str]]:
    """(attribute, referenced column) of each statement of ``cls``'s body holding
    ``ForeignKey("[schema.]<table>.<column>")`` (any table when ``table`` is None); the
    attribute is "" when not one name."""
    out = []
    for stmt in cls.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(stmt.value, ast.Call):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            name = targets[0].id if len(targets) == 1 and isinstance(targets[0], ast.Name) else ""
            for node in ast.walk(stmt.value):
                if (isinstance(node, ast.Call) and (dotted(node.func) or "").split(".")[-1] == "ForeignKey"
                        and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                        and table in (None, node.args[0].value.rsplit(".", 1)[0].split(".")[-1])):
                    out.append((name, node.args[0].value.rsplit(".", 1)[-1]))
    return out




def _column_name(cls: ast.ClassDef, attr: str) -> str:
    """The table column ``attr`` of ``cls``'s body maps (``Column("cust_id", ...)`` names its own)."""
    for stmt in cls.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        if [getattr(t, "id", None) for t in targets] == [attr] and isinstance(stmt.value, ast.Call):  # type: ignore[union-attr]
            args = stmt.value.args  # type: ignore[union-attr]
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                return args[0].value
    return attr


def _query_of(node: ast.AST) -> ast.Name | None:
    """``X`` of ``X.query``."""
    return node.value if isinstance(node, ast.Attribute) and node.attr == "query" and isinstance(node.value, ast.Name) else None


def _db_call_here(tree: ast.Module, name: str) -> ast.Call | None:
    """The module-level ``name = SQLAlchemy(...)`` of ``tree``."""
    for stmt in tree.body:
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
                and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)
                and (dotted(stmt.value.func) or "").split(".")[-1] == "SQLAlchemy"):
            return stmt.value
    return None


def _table_name(cls: ast.ClassDef) -> str:
    for stmt in cls.body:
        if (isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in stmt.targets)
                and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
            return stmt.value.value
    # Flask-SQLAlchemy's default: the class name in snake_case
    return re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", cls.name).lower()
