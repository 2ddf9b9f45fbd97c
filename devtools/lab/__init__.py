"""The built-in lab: systemd-nspawn hosts, a QEMU VM, the offline package repository, generated inventory and secrets
(`scripts/lab`, docs/lab.md)."""
