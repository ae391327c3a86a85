"""The pure core: gate and condition evaluation, trigger logic, critique scoring.

Nothing here touches a database, the network, YAML, the CLI or the clock; time is passed in.
"""
