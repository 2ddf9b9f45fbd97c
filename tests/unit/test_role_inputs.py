"""Role inputs: every inventory or default variable a role reads is declared in its meta/argument_specs.yml, and the
lab inventory's values pass those specs with Ansible's own validator.

Ansible checks the specs at the start of each role (ansible.builtin.validate_argument_spec), so a spec that is
wrong for the values the inventory holds stops real runs: it is found here instead.

1. Static: the names a role's files reference are found with Jinja2's own parser
   (jinja2.meta.find_undeclared_variables) on its templates and on the `{{ }}` strings and the bare expressions
   (`when:`, `that:`, ...) of its task, handler, defaults and vars files. A name counts as an input when the
   role's defaults/main.yml or the inventory defines it (group_vars files and the lab's inventory files; vaulted
   values count by name); facts, registered results, loop variables, set_fact results, the role's
   vars/main.yml constants and Ansible's own `ansible_*` connection variables do not. Entry points besides
   `main` are checked against the task files they run.
2. Values: for every host of the lab inventory and every role (entry point) the playbooks apply to it, the host's
   variables, merged as Ansible merges them (role defaults, inventory, role vars, the play's variables for the
   role) and templated, are validated with ansible.module_utils.common.arg_spec.ArgumentSpecValidator, the way
   validate_argument_spec does it, plus a stricter check that each value has exactly the declared type. The lab
   inventory is written here as `scripts/lab up` writes it (devtools.lab.outputs, secrets from
   baseline.secrets), vaulted under a throw-away password; a running lab's own inventory/lab/hosts.yml (vault
   password from .lab/vault-password) is checked too when it exists. Values that depend on facts are listed
   in FACT_DEPENDENT with the reason. A role is applied by a play's `roles:`, by include_role/import_role, and as
   a dependency (meta/main.yml) of a role applied, with the variables of the role that depends on it.
"""

from __future__ import annotations

import secrets
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
import pytest
import yaml

from baseline import REPO_ROOT

ROLES_DIR = REPO_ROOT / "roles"
PLAYBOOKS_DIR = REPO_ROOT / "playbooks"
LAB_INVENTORY = REPO_ROOT / "inventory" / "lab"
GROUP_VARS = REPO_ROOT / "inventory" / "group_vars"

# Keys whose string values are bare Jinja2 expressions (no braces).
EXPRESSION_KEYS = {"when", "changed_when", "failed_when", "until", "that"}
ROLE_YAML_PARTS = ("tasks", "handlers", "defaults", "vars")
INCLUDE_ROLE = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}
INCLUDE_TASKS = {"include_tasks", "import_tasks", "ansible.builtin.include_tasks", "ansible.builtin.import_tasks"}
TEMPLATE_MODULES = {"template", "ansible.builtin.template"}
PLAY_TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")
ROLE_ENTRY_KEYWORDS = {"role", "name", "vars", "tags", "when", "become", "become_user", "environment", "delegate_to"}

# (role, variable) -> why its value cannot be known before the host is contacted; the value is not validated here
# (neither its type nor its presence: a required input of this kind is checked by Ansible when the role runs).
FACT_DEPENDENT: dict[tuple[str, str], str] = {
    ("lockout_guard", "lockout_guard_files"): "the files a guarded change touches come from the caller's dry run on the host",
    ("lockout_guard", "lockout_guard_cause"): "what failed is known only when the guarded change fails on the host",
}


# --- 1. What a role reads --------------------------------------------------------------------------------------------


class _TolerantLoader(yaml.SafeLoader):
    """YAML with Ansible's tags (!vault, !unsafe) read as plain values: only names and text matter here."""


_TolerantLoader.add_multi_constructor(
    "!", lambda loader, _suffix, node: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None)


def read_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_TolerantLoader) if path.is_file() else None  # noqa: S506


class _AnyName(dict):
    """Filters and tests: any name parses (Ansible's and the project's plugins are not loaded for parsing)."""

    def __missing__(self, key):
        return lambda *args, **kwargs: None

    def get(self, key, default=None):
        return self[key]

    def __contains__(self, key):
        return True


_JINJA = jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])  # noqa: S701 - parsing only
_JINJA.filters = _AnyName(_JINJA.filters)
_JINJA.tests = _AnyName(_JINJA.tests)


def template_names(text: str) -> set[str]:
    """Top-level names a Jinja2 template reads, plus constant names read through lookup('vars', 'NAME')."""
    with warnings.catch_warnings():  # a regular expression's backslash in a string literal
        warnings.simplefilter("ignore", DeprecationWarning)
        ast = _JINJA.parse(text)
    names = set(jinja2.meta.find_undeclared_variables(ast))
    for call in ast.find_all(jinja2.nodes.Call):
        if (isinstance(call.node, jinja2.nodes.Name) and call.node.name in ("lookup", "query", "q") and call.args
                and isinstance(call.args[0], jinja2.nodes.Const) and str(call.args[0].value).split(".")[-1] == "vars"):
            names |= {arg.value for arg in call.args[1:] if isinstance(arg, jinja2.nodes.Const)}
    return names


def yaml_names(data: Any, key: str | None = None) -> set[str]:
    """Names read by the `{{ }}` strings and the bare expressions of a task, handler, defaults or vars file."""
    names: set[str] = set()
    if isinstance(data, dict):
        for sub_key, value in data.items():
            names |= yaml_names(value, str(sub_key))
    elif isinstance(data, list):
        for value in data:
            names |= yaml_names(value, key)
    elif isinstance(data, str):
        if key in EXPRESSION_KEYS and "{{" not in data and "{%" not in data:
            names |= template_names("{{ " + data + " }}")
        elif "{{" in data or "{%" in data:
            names |= template_names(data)
    return names


def file_names(role: Path, path: Path) -> set[str]:
    if path.relative_to(role).parts[0] == "templates":
        return template_names(path.read_text(encoding="utf-8"))
    return yaml_names(read_yaml(path))


def role_files(role: Path) -> list[Path]:
    """Every file of the role Ansible templates: tasks, handlers, defaults, vars (YAML) and templates."""
    found = [p for part in ROLE_YAML_PARTS for p in sorted((role / part).rglob("*.y*ml"))]
    return found + sorted(p for p in (role / "templates").rglob("*") if p.is_file())


def _tasks(data: Any):
    """Every task of a task list, blocks opened."""
    for task in data or []:
        if not isinstance(task, dict):
            continue
        yield task
        for part in ("block", "rescue", "always"):
            yield from _tasks(task.get(part))


def entry_point_files(role: Path, entry: str) -> list[Path]:
    """tasks/<entry>.yml and the role's handlers, the task files they import or include by literal name, and the
    templates they render."""
    found: list[Path] = []
    queue = [role / "tasks" / f"{entry}.yml", role / "handlers" / "main.yml"]
    while queue:
        path = queue.pop()
        if path in found or not path.is_file():
            continue
        found.append(path)
        for task in _tasks(read_yaml(path)):
            for module, args in task.items():
                target = args.get("file") if isinstance(args, dict) else args
                if module in INCLUDE_TASKS and isinstance(target, str) and "{{" not in target:
                    queue.append(path.parent / target)
                source = args.get("src") if isinstance(args, dict) else None
                if module in TEMPLATE_MODULES and isinstance(source, str) and "{{" not in source:
                    found.append(role / "templates" / source)
    return found


def read_names(role: Path, files: list[Path]) -> dict[str, set[str]]:
    """name -> files (relative to the role) that read it."""
    names: dict[str, set[str]] = {}
    for path in files:
        for name in file_names(role, path):
            names.setdefault(name, set()).add(str(path.relative_to(role)))
    return names


def _inventory_file_names(data: Any) -> set[str]:
    """Variable names an inventory file sets: group vars and host entries, children included."""
    names: set[str] = set()
    for group in (data or {}).values() if isinstance(data, dict) else ():
        if isinstance(group, dict):
            names |= set(group.get("vars") or {})
            for host in (group.get("hosts") or {}).values():
                names |= set(host or {})
            names |= _inventory_file_names(group.get("children"))
    return names


def inventory_names(inventory_dir: Path) -> set[str]:
    """Names an inventory defines: its group_vars/host_vars files (top-level keys) and its inventory files
    (vaulted values by name only), without Ansible's connection variables (`ansible_*`)."""
    names: set[str] = set()
    for sub in ("group_vars", "host_vars"):
        for path in sorted((inventory_dir / sub).rglob("*.y*ml")):
            data = read_yaml(path)
            names |= set(data) if isinstance(data, dict) else set()
    for path in sorted(inventory_dir.glob("*.y*ml")):
        names |= _inventory_file_names(read_yaml(path))
    return {name for name in names if not name.startswith("ansible_")}


def argument_specs(role: Path) -> dict[str, dict]:
    return (read_yaml(role / "meta/argument_specs.yml") or {}).get("argument_specs") or {}


def undeclared_inputs(role: Path, inventory: set[str]) -> list[str]:
    """One line per input the role reads and an entry point of its argument_specs does not declare."""
    defaults = set(read_yaml(role / "defaults/main.yml") or {})
    constants = set(read_yaml(role / "vars/main.yml") or {})
    inputs = (defaults | inventory) - constants
    specs = argument_specs(role)
    problems = []
    for entry in ["main", *sorted(set(specs) - {"main"})]:
        files = role_files(role) if entry == "main" else entry_point_files(role, entry)
        declared = set((specs.get(entry) or {}).get("options") or {})
        for name, where in sorted(read_names(role, files).items()):
            if name in inputs and name not in declared:
                origin = "defaults/main.yml" if name in defaults else "the inventory"
                problems.append(f"roles/{role.name}: {name} (from {origin}), read by {', '.join(sorted(where))}, "
                                f"is not declared in meta/argument_specs.yml (entry point {entry})")
    return problems


# --- 2. The lab inventory, and which roles the playbooks apply to its hosts ------------------------------------------


def write_lab_inventory(directory: Path, vault_password: str) -> Path:
    """The lab inventory as `scripts/lab up` writes it (every lab host, staff keys, vaulted secrets), in `directory`."""
    from baseline.secrets import generate_values
    from devtools.lab import config as lab_config
    from devtools.lab import outputs as lab_outputs
    from devtools.lab import secrets as lab_secrets

    directory.mkdir(parents=True, exist_ok=True)
    for path in LAB_INVENTORY.glob("*.y*ml"):
        if path.name != "hosts.yml":
            shutil.copy(path, directory / path.name)
    (directory / "group_vars").symlink_to((LAB_INVENTORY / "group_vars").resolve())
    shared: dict[str, Any] = {}
    for path in sorted((GROUP_VARS / "all").glob("*.yml")):
        shared.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    values = generate_values(shared)  # every secret variable, as the lab makes them
    keys = {p["username"]: [_public_key(p["username"], n)] for n, p in enumerate(shared["staff"])}
    text = yaml.safe_dump(lab_outputs.ansible_inventory(list(lab_config.ALL_HOSTS), {"staff_ssh_keys": keys}),
                          sort_keys=False, allow_unicode=True)
    text = text.replace("  vars:\n", "  vars:\n" + lab_secrets.vault_yaml(values, vault_password), 1)
    (directory / "hosts.yml").write_text(text, encoding="utf-8")
    return directory


def _public_key(username: str, seed: int) -> str:
    import base64
    import struct

    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes((seed + i) % 256 for i in range(32))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {username}@lab"


@dataclass
class LoadedInventory:
    """An inventory read with Ansible's own classes (vault values decrypt with the given password)."""

    loader: Any
    manager: Any
    variables: Any

    def host_names(self, pattern: str = "all") -> list[str]:
        return [host.name for host in self.manager.get_hosts(pattern)]

    def host_vars(self, host: str) -> dict[str, Any]:
        return self.variables.get_vars(host=self.manager.get_host(host), include_hostvars=True)


def load_inventory(source: Path, vault_password: str) -> LoadedInventory:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultSecret, VaultSecretsContext
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    vault = [("default", VaultSecret(vault_password.encode()))]
    loader.set_vault_secrets(vault)
    context = VaultSecretsContext.current(optional=True)
    if context is None:  # initialised once per process, as ansible's CLI does (and baseline.inventory)
        VaultSecretsContext.initialize(VaultSecretsContext(vault))
    else:
        context.secrets = [*vault, *context.secrets]
    manager = InventoryManager(loader=loader, sources=[str(source)])
    return LoadedInventory(loader, manager, VariableManager(loader=loader, inventory=manager))


@dataclass(frozen=True)
class Application:
    """A role (entry point) a playbook applies to the hosts of a pattern, with the variables the play gives it."""

    playbook: str
    hosts: str
    role: str
    entry: str
    variables: dict = field(default_factory=dict, hash=False, compare=False)


def _role_includes(task: dict) -> tuple[str, str, dict] | None:
    for module in INCLUDE_ROLE & set(task):
        args = task[module] or {}
        return args["name"], args.get("tasks_from", "main"), dict(task.get("vars") or {})
    return None


def _dependencies(loader: Any, application: Application) -> list[Application]:
    """The roles the applied role declares as dependencies (meta/main.yml): their `main`, run before the role with
    the variables of the role that depends on them (Ansible's dependency chain) and their own."""
    meta = ROLES_DIR / application.role / "meta/main.yml"
    data = (loader.load_from_file(str(meta), trusted_as_template=True) or {}) if meta.is_file() else {}
    found = []
    for listed in data.get("dependencies") or []:
        entry = {"role": listed} if isinstance(listed, str) else listed
        params = {k: v for k, v in entry.items() if k not in ROLE_ENTRY_KEYWORDS}
        variables = {**application.variables, **(entry.get("vars") or {}), **params}
        found.append(Application(application.playbook, application.hosts, entry.get("role") or entry["name"], "main",
                                 variables))
    return found


def _nested(loader: Any, application: Application, seen: set) -> list[Application]:
    """The application itself, the roles it depends on and the other roles its entry point includes (same hosts,
    the include's vars)."""
    key = (application.hosts, application.role, application.entry)
    if key in seen:
        return []
    seen.add(key)
    found = [application]
    for dependency in _dependencies(loader, application):
        found += _nested(loader, dependency, seen)
    for path in entry_point_files(ROLES_DIR / application.role, application.entry.removesuffix(".yml")):
        if path.suffix != ".yml":
            continue
        for task in _tasks(loader.load_from_file(str(path), trusted_as_template=True)):
            included = _role_includes(task)
            if included and included[0] != application.role:
                name, entry, variables = included
                # the include's vars are templated where the including role's vars are in scope (e.g. postgresql's
                # tls.yml passes postgresql_tls_* to pki)
                own = ROLES_DIR / application.role / "vars/main.yml"
                scope = (loader.load_from_file(str(own), trusted_as_template=True) or {}) if own.is_file() else {}
                found += _nested(loader, Application(application.playbook, application.hosts, name, entry,
                                                     {**scope, **variables}), seen)
    return found


def playbook_applications(loader: Any) -> list[Application]:
    """Every role (entry point) each playbook applies: `roles:` of a play and include_role/import_role tasks,
    followed into the roles' dependencies and their own include_role tasks. Play files are read with Ansible's
    loader, so their values template as in a run."""
    found: list[Application] = []
    seen: set = set()
    for path in sorted(PLAYBOOKS_DIR.glob("*.yml")):
        for play in loader.load_from_file(str(path), trusted_as_template=True) or []:
            if not isinstance(play, dict) or "hosts" not in play:
                continue
            for listed in play.get("roles") or []:
                entry = {"role": listed} if isinstance(listed, str) else listed
                name = entry.get("role") or entry.get("name")
                params = {k: v for k, v in entry.items() if k not in ROLE_ENTRY_KEYWORDS}
                variables = {**(play.get("vars") or {}), **(entry.get("vars") or {}), **params}
                found += _nested(loader, Application(path.name, play["hosts"], name, "main", variables), seen)
            for part in PLAY_TASK_LISTS:
                for task in _tasks(play.get(part)):
                    included = _role_includes(task)
                    if included:
                        name, entry_point, variables = included
                        variables = {**(play.get("vars") or {}), **variables}
                        found += _nested(loader, Application(path.name, play["hosts"], name, entry_point, variables), seen)
    return found


def role_variables(inventory: LoadedInventory, application: Application, host: str) -> dict[str, Any]:
    """What the role's tasks see, in Ansible's order: role defaults < inventory < the release file of the host's
    group debian_<N> (the lab's servers run Debian 12; playbooks/release.yml groups them) < role vars < the play's
    variables."""
    from ansible.utils.vars import combine_vars

    role = ROLES_DIR / application.role
    merged = combine_vars(_load(inventory, role / "defaults/main.yml"), inventory.host_vars(host))
    if host != "localhost":
        merged = combine_vars(merged, _load(inventory, REPO_ROOT / "playbooks/group_vars/debian_12.yml"))
    merged = combine_vars(merged, _load(inventory, role / "vars/main.yml"))
    return combine_vars(merged, application.variables)


def _load(inventory: LoadedInventory, path: Path) -> dict:
    return (inventory.loader.load_from_file(str(path), trusted_as_template=True) or {}) if path.is_file() else {}


def spec_violations(application: Application, host: str, variables: dict[str, Any], loader: Any) -> list[str]:
    """Ansible's own check of the role's entry point (validate_argument_spec): the declared names present in the
    variables, templated, then ArgumentSpecValidator. One line per problem, naming role, entry point and host."""
    from ansible.errors import AnsibleError
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible.template import Templar

    options = {name: option
               for name, option in ((argument_specs(ROLES_DIR / application.role).get(application.entry) or {})
                                    .get("options") or {}).items()
               if (application.role, name) not in FACT_DEPENDENT}
    where = f"{application.role} ({application.entry}, {application.playbook}) on {host}"
    templar = Templar(loader=loader, variables=variables)
    values, problems = {}, []
    for name in options:
        if name not in variables:
            continue
        try:
            values[name] = templar.template(variables[name])
        except AnsibleError as exc:
            problems.append(f"{where}: {name} cannot be templated before the host is contacted: {exc.message}")
    result = ArgumentSpecValidator(options).validate(values, validate_role_argument_spec=True)
    problems += [f"{where}: {message}" for message in result.error_messages]
    return problems


_PYTHON_TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict}


def type_mismatches(application: Application, host: str, variables: dict[str, Any], loader: Any) -> list[str]:
    """Stricter than Ansible (which turns any value into text for `str` and a comma list into a list): the
    templated inventory value has exactly the declared type, and each list element the declared element type."""
    from ansible.errors import AnsibleError
    from ansible.template import Templar

    options = (argument_specs(ROLES_DIR / application.role).get(application.entry) or {}).get("options") or {}
    templar = Templar(loader=loader, variables=variables)
    problems = []
    for name, option in options.items():
        if name not in variables or (application.role, name) in FACT_DEPENDENT:
            continue
        try:
            value = templar.template(variables[name])
        except AnsibleError:
            continue  # reported by spec_violations
        wanted = option.get("type", "str")
        if not _is(value, wanted):
            problems.append(f"{application.role} ({application.entry}) on {host}: {name} is declared {wanted} "
                            f"but holds {type(value).__name__} {value!r}")
        elif wanted == "list" and option.get("elements"):
            wrong = [item for item in value if not _is(item, option["elements"])]
            if wrong:
                problems.append(f"{application.role} ({application.entry}) on {host}: {name} is declared a list of "
                                f"{option['elements']} but holds {wrong!r}")
    return problems


def _is(value: Any, wanted: str) -> bool:
    python_type = _PYTHON_TYPES.get(wanted)
    if python_type is None:  # raw, path, ...: Ansible's own check is enough
        return True
    if python_type is int and isinstance(value, bool):
        return False
    return isinstance(value, python_type)


def role_hosts(inventory: LoadedInventory) -> list[tuple[Application, str]]:
    """Every (role entry point with a spec, host) pair the playbooks make of the inventory's hosts."""
    from ansible.template import Templar

    pairs = []
    for application in playbook_applications(inventory.loader):
        if application.entry not in argument_specs(ROLES_DIR / application.role):
            continue  # Ansible validates only entry points that have a spec
        pattern = Templar(loader=inventory.loader, variables=application.variables).template(application.hosts)
        pairs += [(application, host) for host in inventory.host_names(pattern)]
    return pairs


def lab_checks(inventory: LoadedInventory, check) -> tuple[list[str], int]:
    """`check` (spec_violations, type_mismatches) for every pair of role_hosts; the problems and the pair count."""
    pairs = role_hosts(inventory)
    problems = [line for application, host in pairs
                for line in check(application, host, role_variables(inventory, application, host), inventory.loader)]
    return problems, len(pairs)


# --- Fixtures ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated_lab(tmp_path_factory) -> tuple[Path, str]:
    password = secrets.token_urlsafe(24)  # a throw-away vault password for this module only
    return write_lab_inventory(tmp_path_factory.mktemp("lab") / "inventory", password), password


@pytest.fixture(scope="module", params=["generated", "running"])
def lab_inventory(request, generated_lab) -> LoadedInventory:
    if request.param == "generated":
        return load_inventory(*generated_lab)
    if not (LAB_INVENTORY / "hosts.yml").is_file():
        pytest.skip("no running lab: inventory/lab/hosts.yml is written by `scripts/lab up`")
    from devtools.lab import config as lab_config

    # the password the lab wrote its hosts.yml with (.lab/vault-password), whatever BASELINE_VAULT_PASSWORD another
    # test of the session has set
    password = lab_config.SECRETS_DIR / "vault-password"
    if not password.is_file():
        pytest.skip(f"no vault password of the running lab: {password}")
    return load_inventory(LAB_INVENTORY, password.read_text(encoding="utf-8").strip())


# --- 1. Tests: names -----------------------------------------------------------------------------------------------------


def test_every_input_a_role_reads_is_declared_in_its_argument_specs(generated_lab):
    inventory = inventory_names(LAB_INVENTORY) | inventory_names(generated_lab[0])
    roles = sorted(p for p in ROLES_DIR.iterdir() if (p / "meta/argument_specs.yml").is_file())
    assert len(roles) == len(list(ROLES_DIR.iterdir()))
    problems = [line for role in roles for line in undeclared_inputs(role, inventory)]
    assert not problems, "\n".join(problems)


def test_the_extraction_sees_inventory_values_in_templates_tasks_defaults_and_entry_points(generated_lab):
    """The static check is not vacuous: it finds inputs in each kind of file, vaulted names included."""
    inventory = inventory_names(generated_lab[0])
    assert {"password_min_length", "staff", "backup_restic_password", "host_kind"} <= inventory
    accounts = read_names(ROLES_DIR / "accounts", role_files(ROLES_DIR / "accounts"))
    assert "templates/pwquality.conf.j2" in accounts["password_min_length"]
    assert "tasks/staff.yml" in accounts["protection_level"]  # a bare `that:`/`when:` expression and a `{{ }}`
    assert "defaults/main.yml" in accounts["automation_user"]
    assert "tasks/mariadb.yml" in read_names(ROLES_DIR / "backup_client",
                                             role_files(ROLES_DIR / "backup_client"))["db_mariabackup_password"]
    pki = ROLES_DIR / "pki"
    assert "tasks/ca.yml" in read_names(pki, entry_point_files(pki, "host_cert"))["pki_ca_subject"]


def test_an_undeclared_input_fails_naming_role_variable_and_file(tmp_path):
    role = tmp_path / "roles" / "example"
    for part, text in {
        "defaults/main.yml": "example_port: 514\n",
        "meta/argument_specs.yml": "argument_specs:\n  main:\n    options:\n      example_port: {type: int}\n"
                                   "  extra:\n    options: {}\n",
        "tasks/main.yml": "- name: Use\n  ansible.builtin.debug:\n    msg: \"{{ example_port }}\"\n"
                          "  when: login_max_failures > 3 and item is defined\n",
        "tasks/extra.yml": "- name: Extra\n  ansible.builtin.import_tasks: more.yml\n",
        "tasks/more.yml": "- name: More\n  ansible.builtin.debug:\n    msg: \"{{ example_port }}\"\n",
        "templates/example.conf.j2": "{% set local = 1 %}MinLen={{ password_min_length }} {{ local }}\n",
    }.items():
        (role / part).parent.mkdir(parents=True, exist_ok=True)
        (role / part).write_text(text, encoding="utf-8")
    problems = undeclared_inputs(role, {"password_min_length", "login_max_failures", "staff"})
    assert problems == [
        "roles/example: login_max_failures (from the inventory), read by tasks/main.yml, "
        "is not declared in meta/argument_specs.yml (entry point main)",
        "roles/example: password_min_length (from the inventory), read by templates/example.conf.j2, "
        "is not declared in meta/argument_specs.yml (entry point main)",
        "roles/example: example_port (from defaults/main.yml), read by tasks/more.yml, "
        "is not declared in meta/argument_specs.yml (entry point extra)",
    ]


# --- 2. Tests: values ----------------------------------------------------------------------------------------------------


def test_the_playbooks_apply_every_role_to_lab_hosts(generated_lab):
    """The value check is not vacuous: each role's `main` reaches lab hosts, and pki's host_cert the databases."""
    reached: dict[tuple[str, str], set[str]] = {}
    for application, host in role_hosts(load_inventory(*generated_lab)):
        reached.setdefault((application.role, application.entry), set()).add(host)
    for role in sorted(p.name for p in ROLES_DIR.iterdir()):
        assert reached.get((role, "main")), f"no playbook applies roles/{role} to a lab host"
    assert reached[("pki", "host_cert")] == {"db1", "db2"}
    assert reached[("audit", "main")] == {"app1", "db1", "db2", "log1", "bak1", "drill1", "mgmt1", "kern1"}
    # lockout_guard: a dependency of accounts and hardening (every Linux server); its entry points are called by their
    # tasks (at least on the hosts of accounts) and by linux.yml's post_tasks (done)
    assert reached[("lockout_guard", "main")] == reached[("audit", "main")]
    for entry in ("arm", "confirm", "rollback", "done"):
        assert reached[("lockout_guard", entry)] >= reached[("accounts", "main")], entry


def test_lab_values_pass_the_argument_specs_of_their_roles(lab_inventory):
    problems, pairs = lab_checks(lab_inventory, spec_violations)
    assert pairs > 0
    assert not problems, "\n".join(problems)


def test_lab_values_have_exactly_the_declared_types(lab_inventory):
    problems, pairs = lab_checks(lab_inventory, type_mismatches)
    assert pairs > 0
    assert not problems, "\n".join(problems)


def test_a_wrong_inventory_value_fails_naming_role_host_and_variable(generated_lab, tmp_path):
    """The same check on a copy of the lab inventory where one host holds wrong values (host_vars/app1.yml)."""
    source, password = generated_lab
    shutil.copytree(source, tmp_path / "inventory", symlinks=True)
    (tmp_path / "inventory/host_vars").mkdir()
    (tmp_path / "inventory/host_vars/app1.yml").write_text(
        "protection_level: 4\nlog_server_tls_port: tls\naccounts_unmanaged: delete\n", encoding="utf-8")
    problems, _ = lab_checks(load_inventory(tmp_path / "inventory", password), spec_violations)
    assert sorted(problems) == [
        "accounts (main, linux.yml) on app1: value of accounts_unmanaged must be one of: remove, report, fail, got: delete",
        "accounts (main, linux.yml) on app1: value of protection_level must be one of: 2, 3, got: 4",
        "audit (main, linux.yml) on app1: argument 'log_server_tls_port' is of type str and we were unable to convert "
        "to int: \"'tls'\" cannot be converted to an int",
        "audit (main, linux.yml) on app1: value of protection_level must be one of: 2, 3, got: 4",
    ], problems


def test_a_value_ansible_would_turn_into_text_fails_the_type_check(generated_lab):
    """Ansible turns a list into text for a `str` option; the stricter type check names it."""
    inventory = load_inventory(*generated_lab)
    accounts = Application("linux.yml", "linux_servers:!kernel_hosts", "accounts", "main")
    variables = role_variables(inventory, accounts, "app1")
    assert spec_violations(accounts, "app1", variables, inventory.loader) == []
    listed = {**variables, "platform_name": ["a", "b"], "admin_networks": ["10.231.0.0/24", 24]}
    assert spec_violations(accounts, "app1", listed, inventory.loader) == []
    assert sorted(type_mismatches(accounts, "app1", listed, inventory.loader)) == [
        "accounts (main) on app1: admin_networks is declared a list of str but holds [24]",
        "accounts (main) on app1: platform_name is declared str but holds list ['a', 'b']",
    ]
