"""Development tooling of the security baseline: the built-in lab, the network-device simulator, benchmarks and
role documentation. Production runs only `baseline/`, which never imports this package (tests/unit/test_layering.py)."""
