"""The house rules, checked on the code itself (issue « One house »).

Every check but the foreign keys one reads `app/` as text (Python with `ast`, templates with Jinja's parser)
and never imports the application. Each failure names the offending file and line (or table.column), so a
red test says what to fix:

1. no module of app/ over MAX_LINES lines;
2. no `except ImportError` in app/;
3. at most MAX_LOCAL_IMPORTS function-level imports of our own modules, each in ALLOW_LIST with its reason;
4. app/permissions.py and app/models/ import nothing from the upper layers (UPPER_LAYERS);
5. no import cycle among app/ modules, counting function-level imports;
6. every template under app/templates is rendered somewhere;
7. every `*_id` / `*_ref` column has a foreign key, except NON_TABLE_IDS;
8. no state literal compared outside app/models/ (Python and templates);
9. every target state of every state machine is reachable from a route, a job or a CLI command.
"""

import ast
import re
from pathlib import Path

import jinja2
from jinja2 import nodes

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
TEMPLATES = APP / "templates"
MAX_LINES = 1000
MAX_LOCAL_IMPORTS = 15
UPPER_LAYERS = ("app.services", "app.queries", "app.routes", "app.forms", "app.jinja")

# Function-level imports of our own modules that are allowed: {"path:modules imported": reason}. Each
# import statement counts (at most MAX_LOCAL_IMPORTS in all, and as many entries at most) — an import moved
# into a function to dodge a cycle is still a cycle: fix the layering instead.
FACTORY = "application factory: `import app` (and app.models) must not pull in every extension and blueprint"
ALLOW_LIST: dict[str, str] = {
    "app/__init__.py:app.assets, app.extensions, app.jinja, app.ratelimit, app.security": FACTORY,
    "app/__init__.py:app.auth_session, app.models": FACTORY,
    "app/__init__.py:app.routes": FACTORY,
    "app/__init__.py:app.cli": FACTORY,
    "app/__init__.py:app.routes.errors": FACTORY,
}

# Columns named *_id / *_ref that hold something other than a row of one table: {"table.column": reason}.
NON_TABLE_IDS: dict[str, str] = {
    "users.idp_id": "the identity provider's own identifier of the agent (external, not a table of ours)",
    "audit_entries.object_id": "polymorphic: the audited object of any type, named by object_type",
    "reminders.object_id": "polymorphic: the object reminded about, named by object_type",
    "notifications.object_id": "polymorphic: the object notified about, named by object_type",
}

# State enums: StrEnum classes of app/models whose name ends with one of these, or is one of the outcomes.
STATE_SUFFIXES = ("State", "Status")
OUTCOME_NAMES = ("Outcome",)


# --- reading app/ ---------------------------------------------------------------------------------------


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def python_files() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


MODULES = {module_name(path): path for path in python_files()}


class Import:
    """One import statement of one of our modules: where it is and which app modules it names."""

    def __init__(self, path: Path, node: ast.stmt, function: str | None, targets: list[str]):
        self.path, self.line, self.function, self.targets = path, node.lineno, function, targets

    @property
    def name(self) -> str:
        """What is imported, most specific first: `from ..services import audit` names app.services.audit."""
        return ", ".join(t for t in self.targets if not any(o.startswith(t + ".") for o in self.targets))

    @property
    def where(self) -> str:
        scope = f" (in {self.function}())" if self.function else ""
        return f"{rel(self.path)}:{self.line}{scope}"


def resolve_from(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module of `from <module> import …` (relative imports resolved against the file)."""
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if not is_package(path):
        package.pop()
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def targets_of(path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The app modules an import statement loads: `from . import x` names the submodule x when it is one,
    `from .models import X` names app.models (the package) and app.models.X if X is a submodule."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "app"]
    module = resolve_from(path, node)
    if module.split(".")[0] != "app":
        return []
    submodules = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in MODULES]
    if node.module is None and submodules:
        return submodules
    return [module, *submodules]


def imports_in(path: Path) -> list[Import]:
    """Every import of our own modules in a file, with the function it sits in (None: module level)."""
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and (targets := targets_of(path, child)):
                found.append(Import(path, child, function, targets))
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            visit(child, inner)

    visit(parse(path), None)
    return found


ALL_IMPORTS = [imported for path in python_files() for imported in imports_in(path)]


def fail_with(title: str, lines: list[str]) -> None:
    assert not lines, f"{title} ({len(lines)}):\n" + "\n".join(f"  {line}" for line in lines)


# --- 1–5: size, guards, imports, layers, cycles ---------------------------------------------------------


def test_no_module_over_the_size_limit():
    too_long = []
    for path in python_files():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_LINES:
            too_long.append(f"{rel(path)}:{count}: {count} lines")
    fail_with(f"Modules over {MAX_LINES} lines: split them by sub-domain", too_long)


def caught(handler: ast.ExceptHandler) -> str:
    return ast.unparse(handler.type) if handler.type else ""


def test_no_import_error_guard():
    guards = []
    for path in python_files():
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.ExceptHandler) and "ImportError" in caught(node):
                guards.append(f"{rel(path)}:{node.lineno}: except {caught(node)}")
    fail_with("`except ImportError` in app/: our domains are always installed, import them", guards)


def allow_key(imported: Import) -> str:
    return f"{rel(imported.path)}:{imported.name}"


def test_function_level_imports_are_few_and_allow_listed():
    local = [imported for imported in ALL_IMPORTS if imported.function]
    problems = [
        f"{imported.where}: imports {imported.name} — not in ALLOW_LIST ({allow_key(imported)!r})"
        for imported in local
        if allow_key(imported) not in ALLOW_LIST
    ]
    if len(local) > MAX_LOCAL_IMPORTS:
        problems.append(f"{len(local)} function-level imports of our modules, at most {MAX_LOCAL_IMPORTS}")
    if len(ALLOW_LIST) > MAX_LOCAL_IMPORTS:
        problems.append(f"ALLOW_LIST has {len(ALLOW_LIST)} entries, at most {MAX_LOCAL_IMPORTS}")
    used = {allow_key(imported) for imported in local}
    problems += [
        f"ALLOW_LIST entry {key!r} matches no import any more: remove it"
        for key in ALLOW_LIST
        if key not in used
    ]
    fail_with("Function-level imports of our own modules hide dependencies", problems)


def is_lower_layer(path: Path) -> bool:
    return path == APP / "permissions.py" or (APP / "models") in path.parents


def in_upper_layer(module: str) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in UPPER_LAYERS)


def test_permissions_and_models_import_no_upper_layer():
    wrong = [
        f"{imported.where}: imports {target}"
        for imported in ALL_IMPORTS
        if is_lower_layer(imported.path)
        for target in imported.targets
        if in_upper_layer(target)
    ]
    fail_with("permissions.py and models/ must not import services, queries, routes, forms or jinja", wrong)


def import_graph() -> dict[str, set[str]]:
    graph = {module: set() for module in MODULES}
    for imported in ALL_IMPORTS:
        source = module_name(imported.path)
        graph[source] |= {target for target in imported.targets if target in MODULES and target != source}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(components, key=len, reverse=True)


def edge_sites(members: list[str]) -> list[str]:
    """Each import edge inside one cycle, with its first site and how many statements repeat it."""
    inside, sites = set(members), {}
    for imported in ALL_IMPORTS:
        source = module_name(imported.path)
        for target in imported.targets:
            if source in inside and target in inside and target != source:
                sites.setdefault((source, target), []).append(imported.where)
    return [
        f"    {source} → {target}: {where[0]}" + (f" (+{len(where) - 1} more)" if len(where) > 1 else "")
        for (source, target), where in sorted(sites.items())
    ]


def test_no_import_cycle():
    found = cycles(import_graph())
    lines = []
    for members in found:
        lines.append(f"cycle of {len(members)} modules: {' ↔ '.join(members)}")
        lines.extend(edge_sites(members))
    assert not found, f"Import cycles among app/ modules ({len(found)}):\n" + "\n".join(lines)


# --- 6: every template is rendered ----------------------------------------------------------------------

MAIL_DIR = "emails/"  # app/services/mail.py renders f"emails/{name}.txt" and f"emails/{name}.html"


def template_names() -> set[str]:
    return {path.relative_to(TEMPLATES).as_posix() for path in TEMPLATES.rglob("*") if path.is_file()}


def string_constants() -> set[str]:
    return {
        node.value
        for path in python_files()
        for node in ast.walk(parse(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def python_patterns() -> list[re.Pattern]:
    """f-strings naming templates (e.g. f"dossiers/{key}.html"), except the mail one handled by base name."""
    patterns = []
    for path in python_files():
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.JoinedStr):
                pattern = joined_pattern(node)
                if pattern and not pattern.pattern.startswith(re.escape(MAIL_DIR)):
                    patterns.append(pattern)
    return patterns


def joined_pattern(node: ast.JoinedStr) -> re.Pattern | None:
    parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[^/]+" for v in node.values]
    literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    if not re.search(r"\.(html|txt|css)$", literal) or "/" not in literal:
        return None
    return re.compile("".join(parts) + "$")


def mail_templates(names: set[str], constants: set[str]) -> set[str]:
    """emails/<name>.txt and .html are rendered by mail.render(<name>) (or a reminder kind's template=)."""
    return {name for name in names if name.startswith(MAIL_DIR) and Path(name).stem in constants}


def jinja_pattern(expression: nodes.Expr) -> re.Pattern | None:
    """A template reference: a constant, or a `"a/" ~ key ~ "_view.html"` concatenation (a pattern)."""
    if isinstance(expression, nodes.Const) and isinstance(expression.value, str):
        return re.compile(re.escape(expression.value) + "$")
    if isinstance(expression, nodes.Concat):
        parts = [re.escape(n.value) if isinstance(n, nodes.Const) else "[^/]+" for n in expression.nodes]
        return re.compile("".join(parts) + "$")
    if isinstance(expression, (nodes.List, nodes.Tuple)):  # {% include ["a.html", "b.html"] %}
        alternatives = [p.pattern for item in expression.items if (p := jinja_pattern(item))]
        return re.compile("|".join(f"(?:{a})" for a in alternatives)) if alternatives else None
    return None


def references_of(name: str) -> list[re.Pattern]:
    if not name.endswith((".html", ".txt")):
        return []
    tree = jinja2.Environment().parse((TEMPLATES / name).read_text(encoding="utf-8"))
    found = tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport))
    return [pattern for node in found if (pattern := jinja_pattern(node.template))]


def used_templates(names: set[str]) -> set[str]:
    constants = string_constants()
    patterns = python_patterns()
    used = (names & constants) | mail_templates(names, constants)
    used |= {name for name in names if any(p.match(name) for p in patterns)}
    todo = list(used)
    while todo:
        for pattern in references_of(todo.pop()):
            for name in names - used:
                if pattern.match(name):
                    used.add(name)
                    todo.append(name)
    return used


def test_every_template_is_rendered():
    names = template_names()
    unused = sorted(names - used_templates(names))
    fail_with(
        "Templates rendered nowhere (no Python string, no extends/include/import from a used template)",
        [f"app/templates/{name}:1" for name in unused],
    )


# --- 7: foreign keys ------------------------------------------------------------------------------------


def allowed_column_exists(tables, key: str, polymorphic: bool) -> bool:
    table_name, column = key.split(".")
    table = tables.get(table_name)
    return (
        table is not None and column in table.columns and (not polymorphic or "object_type" in table.columns)
    )


def test_every_reference_column_has_a_foreign_key():
    from app import models  # noqa: F401  (registers every table on db.metadata)
    from app.extensions import db

    tables = db.metadata.tables
    missing = [
        f"{table.name}.{column.name}"
        for table in db.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith(("_id", "_ref"))
        and not column.foreign_keys
        and f"{table.name}.{column.name}" not in NON_TABLE_IDS
    ]
    stale = [
        f"NON_TABLE_IDS entry {key!r}: no such column any more (or, polymorphic, no object_type beside it)"
        for key, reason in NON_TABLE_IDS.items()
        if not allowed_column_exists(tables, key, polymorphic=reason.startswith("polymorphic"))
    ]
    fail_with(
        "Columns pointing at another table without a foreign key (orphan rows are possible)",
        [f"{name}: no ForeignKey" for name in missing] + stale,
    )


# --- 8: state literals ----------------------------------------------------------------------------------


def is_state_enum(node: ast.ClassDef) -> bool:
    bases = {ast.unparse(base) for base in node.bases}
    named = node.name.endswith(STATE_SUFFIXES) or node.name in OUTCOME_NAMES
    return named and bool(bases & {"enum.StrEnum", "StrEnum"})


def state_values() -> dict[str, str]:
    """{value: "Enum.MEMBER / Other.MEMBER"} of every state enum declared in app/models."""
    values: dict[str, list[str]] = {}
    for path in sorted((APP / "models").rglob("*.py")):
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.ClassDef) and is_state_enum(node):
                for item in node.body:
                    if isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant):
                        values.setdefault(item.value.value, []).append(f"{node.name}.{item.targets[0].id}")
    return {value: " / ".join(members) for value, members in values.items()}


def literals(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [
            item.value for item in node.elts if isinstance(item, ast.Constant) and isinstance(item.value, str)
        ]
    return []


COMPARISONS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def python_state_literals(states: dict[str, str]) -> list[str]:
    found = []
    for path in python_files():
        if (APP / "models") in path.parents:
            continue
        for node in sorted(ast.walk(parse(path)), key=lambda n: getattr(n, "lineno", 0)):
            if isinstance(node, ast.Compare) and any(isinstance(op, COMPARISONS) for op in node.ops):
                hits = [v for side in (node.left, *node.comparators) for v in literals(side) if v in states]
                if hits:
                    names = ", ".join(f"{v!r} ({states[v]})" for v in hits)
                    found.append(f"{rel(path)}:{node.lineno}: {names}")
    return found


QUOTED = r"""["']([a-z_]+)["']"""
TEMPLATE_COMPARISON = re.compile(rf"""(?:[=!]=\s*{QUOTED}|{QUOTED}\s*[=!]=|\bin\s*[(\[]([^)\]]*)[)\]])""")


def compared(match: re.Match) -> list[str]:
    """The quoted values of one template comparison: `== "x"`, `"x" ==`, or each item of `in ("x", "y")`."""
    equal_to, equal_from, members = match.groups()
    return [equal_to or equal_from] if (equal_to or equal_from) else re.findall(QUOTED, members)


def template_state_literals(states: dict[str, str]) -> list[str]:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            hits = [
                value
                for match in TEMPLATE_COMPARISON.finditer(line)
                for value in compared(match)
                if value in states
            ]
            if hits:
                found.append(f"{rel(path)}:{number}: {', '.join(f'{v!r} ({states[v]})' for v in hits)}")
    return found


def test_no_state_literal_outside_models():
    states = state_values()
    assert states, "no state enum found in app/models: the discovery (is_state_enum) needs updating"
    fail_with(
        "State literals compared outside app/models/: use the enum member or the model's named state group",
        python_state_literals(states) + template_state_literals(states),
    )


# --- 9. every transition reachable from a route, a job or a CLI command ----------------------------------
# The six state machines' tables are read from the models. The code is read as text: a call graph by name
# (an over-approximation: `x.submit()` reaches every function named `submit`), rooted at the views (functions
# under a `@bp.get/post/route` decorator), the scheduled jobs (functions handed to `register_job`) and the CLI
# commands (functions under a `.command` decorator). A target state is reachable when a function reachable
# from those roots calls a mover (a function that reaches `transitions.apply`) with that state as an argument
# (`_transition(dossier, S.CONVENTIONNE)`, `meetings.transition(meeting, MeetingState.TENUE)`). A machine
# whose target is chosen by the user (a status picked from the allowed transitions) is listed in USER_CHOSEN
# with the view module and the mover that receive the choice: the check then asserts that a view of that
# module calls the mover with a non-literal `to`. Unreachable before issue 13: conventionné, en suivi, clos.

MACHINES = {  # enum class → (models module, transitions table)
    "DossierState": ("app/models/dossiers.py", "TRANSITIONS"),
    "MeetingState": ("app/models/committees.py", "MEETING_TRANSITIONS"),
    "CampaignState": ("app/models/voting.py", "TRANSITIONS"),
    "OpportunityState": ("app/models/portfolio.py", "TRANSITIONS"),
    "TrancheState": ("app/models/followup.py", "TRANCHE_TRANSITIONS"),
    "AvenantState": ("app/models/followup.py", "AVENANT_TRANSITIONS"),
}
USER_CHOSEN = {
    "OpportunityState": (
        "app/routes/portfolio.py",
        "change_state",
        "the state form offers every allowed move",
    ),
    "CampaignState": ("app/routes/voting.py", "transition", "the campaign page offers every allowed move"),
}
NOT_ENTRIES = ("app/demo.py", "app/demo_scenario.py")  # the demo replays the journeys: it proves nothing
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "route"}


def _functions() -> dict[str, list[tuple[Path, ast.AST]]]:
    found: dict[str, list[tuple[Path, ast.AST]]] = {}
    for path in python_files():
        for node in ast.walk(parse(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.setdefault(node.name, []).append((path, node))
    return found


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _calls(node: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Call)]


def _entries(functions) -> set[str]:
    entries = set()
    for name, defs in functions.items():
        for path, node in defs:
            if rel(path) in NOT_ENTRIES:
                continue
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                attr = target.attr if isinstance(target, ast.Attribute) else None
                if (attr in ROUTE_DECORATORS and "routes" in path.parts) or attr == "command":
                    entries.add(name)
    for path in python_files():
        for call in _calls(parse(path)):
            if _callee(call) == "register_job" and len(call.args) >= 3:
                func = call.args[2]
                entries.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return entries


def _referenced(node: ast.AST) -> list[str]:
    """Names a function calls, or hands over as a value: an argument, a dict value, a branch of a
    conditional expression (`(service.review if … else service.publish)(meeting)`)."""
    names = [c for c in map(_callee, _calls(node)) if c]
    for parent in ast.walk(node):
        values = []
        if isinstance(parent, ast.Call):
            values = [*parent.args, *(k.value for k in parent.keywords)]
        elif isinstance(parent, ast.Dict):
            values = list(parent.values)
        elif isinstance(parent, ast.IfExp):
            values = [parent.body, parent.orelse]
        for value in values:
            if isinstance(value, ast.Name):
                names.append(value.id)
            elif isinstance(value, ast.Attribute):
                names.append(value.attr)
    return names


def _reachable(functions, roots: set[str]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        for path, node in functions[name]:
            if rel(path) not in NOT_ENTRIES:
                todo.extend(_referenced(node))
    return seen


def _movers(functions) -> set[str]:
    """Functions from which `transitions.apply` is reachable (apply included)."""
    movers = {"apply"}
    changed = True
    while changed:
        changed = False
        for name, defs in functions.items():
            if name not in movers and any(
                _callee(c) in movers
                for _, node in defs
                for c in _calls(node)
                if _callee(c) != "apply"
                or (isinstance(c.func, ast.Attribute) and getattr(c.func.value, "id", "") == "transitions")
            ):
                movers.add(name)
                changed = True
    return movers


def _aliases() -> dict[tuple[str, str], str]:
    """(file, local name) → machine enum class, from module-level `S = DossierState` and imports."""
    model_aliases: dict[str, str] = {}
    for path in (APP / "models").glob("*.py"):
        for node in parse(path).body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Name)
                and node.value.id in MACHINES
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        model_aliases[f"{module_name(path)}.{target.id}"] = node.value.id
    aliases = {}
    for path in python_files():
        for node in parse(path).body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Name)
                and node.value.id in MACHINES
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        aliases[(rel(path), target.id)] = node.value.id
            elif isinstance(node, ast.ImportFrom):
                source = resolve_from(path, node)
                for alias in node.names:
                    local = alias.asname or alias.name
                    if alias.name in MACHINES:
                        aliases[(rel(path), local)] = alias.name
                    elif f"{source}.{alias.name}" in model_aliases:
                        aliases[(rel(path), local)] = model_aliases[f"{source}.{alias.name}"]
        for machine in MACHINES:
            aliases.setdefault((rel(path), machine), machine)
    return aliases


def _tables() -> dict[str, set[str]]:
    from app import models

    modules = {"app/models/dossiers.py": models.dossiers, "app/models/committees.py": models.committees}
    modules |= {"app/models/voting.py": models.voting, "app/models/portfolio.py": models.portfolio}
    modules |= {"app/models/followup.py": models.followup}
    return {
        machine: {to.name for targets in getattr(modules[file], table).values() for to in targets}
        for machine, (file, table) in MACHINES.items()
    }


def test_every_transition_is_reachable_from_a_route_a_job_or_a_cli_command():
    functions = _functions()
    reachable = _reachable(functions, _entries(functions))
    movers = _movers(functions)
    aliases = _aliases()
    reached: dict[str, set[str]] = {machine: set() for machine in MACHINES}
    for name in reachable:
        for path, node in functions[name]:
            for call in _calls(node):
                if _callee(call) not in movers:
                    continue
                for arg in [*call.args, *(k.value for k in call.keywords)]:
                    if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
                        machine = aliases.get((rel(path), arg.value.id))
                        if machine:
                            reached[machine].add(arg.attr)
    for machine, (module, mover, _reason) in USER_CHOSEN.items():
        views = [node for defs in functions.values() for path, node in defs if rel(path) == module]
        if any(
            _callee(c) == mover
            and any(k.arg == "to" and not isinstance(k.value, ast.Constant) for k in c.keywords)
            for view in views
            for c in _calls(view)
        ):
            reached[machine] |= _tables()[machine]
    missing = [
        f"{machine}.{state}: no route, job or CLI command reaches a move to it"
        for machine, targets in _tables().items()
        for state in sorted(targets - reached[machine])
    ]
    fail_with("Transitions that nothing in the product can trigger", missing)
