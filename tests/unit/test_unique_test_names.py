"""pytest (default import mode) imports test modules by basename: two test files with the same name in
different folders break the collection of `make test`. Keep them unique."""

from collections import Counter

from baseline import REPO_ROOT


def test_test_module_names_are_unique():
    names = Counter(p.name for folder in ("tests", "compliance_tests") for p in (REPO_ROOT / folder).rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
