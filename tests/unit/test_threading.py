"""Control IDs are threaded: every automated ID is applied by a task and verified by a test, and no tag or
marker names an ID the catalog does not know."""

import shutil
import textwrap

import pytest

from baseline import catalog, trace


def test_repository_threading_is_complete():
    cat = catalog.load()
    found = trace.collect()
    problems = found.unknown(cat) + found.missing(cat)
    assert problems == [], "\n".join(problems)


@pytest.fixture()
def tree(tmp_path, repo_root):
    shutil.copytree(repo_root / "catalog", tmp_path / "catalog")
    (tmp_path / "roles/demo/tasks").mkdir(parents=True)
    (tmp_path / "compliance_tests/linux").mkdir(parents=True)
    return tmp_path


def _write(path, text):
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_unknown_id_in_a_task_tag_is_reported(tree):
    _write(tree / "roles/demo/tasks/main.yml", """
        - name: ZZ-99 | something
          ansible.builtin.debug: {msg: x}
          tags: [ZZ-99, IA-02]
    """)
    problems = trace.collect(tree).unknown(catalog.load())
    assert len(problems) == 1 and problems[0].startswith("ZZ-99") and "roles/demo/tasks/main.yml" in problems[0]


def test_unknown_id_in_a_test_marker_is_reported(tree):
    _write(tree / "compliance_tests/linux/test_x.py", """
        import pytest
        @pytest.mark.control("IA-02", "QQ-01")
        def test_x(host):
            pass
    """)
    problems = trace.collect(tree).unknown(catalog.load())
    assert len(problems) == 1 and problems[0].startswith("QQ-01") and "test_x.py:3" in problems[0]


def test_automated_control_without_task_or_test_is_reported(tree):
    cat = catalog.load()
    data = {cid: c for cid, c in cat.controls.items()}
    data["IA-02"] = catalog.Control(**{**data["IA-02"].__dict__, "status": "automated"})
    forced = catalog.Catalog(families=cat.families, controls=data)
    missing = trace.collect(tree).missing(forced)
    assert any(m.startswith("IA-02") and "task tag" in m for m in missing)
    assert any(m.startswith("IA-02") and "compliance test" in m for m in missing)
    _write(tree / "roles/demo/tasks/main.yml", "- name: IA-02 | x\n  ansible.builtin.debug: {msg: x}\n  tags: [IA-02]\n")
    _write(tree / "compliance_tests/linux/test_x.py",
           "import pytest\n@pytest.mark.control('IA-02')\ndef test_x(host):\n    pass\n")
    assert not [m for m in trace.collect(tree).missing(forced) if m.startswith("IA-02")]
