"""Network devices (NW-01..NW-08): render, back up, push and audit Huawei VRP, H3C Comware and Cisco IOS baselines.

Modules: definitions (what a device is: inventory record, accounts, secret variables; shared with the device
simulator), devices (secrets masked, pre-checks), render (templates), configdiff (what is missing, rollback),
drivers (netmiko), backup, push, audit, cli (`scripts/netdev`). The simulator of the lab's devices is development
tooling: devtools/simulator/. Fresh secret values: baseline.secrets.generate_values(values, "devices").
"""
