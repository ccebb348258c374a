"""Config stage: config.yaml → a validated, frozen `Config` (sources, site, policy).

Receives the path of config.yaml; hands on `Config` and its parts. Below every other stage:
it imports nothing of them. `policy`, `clock` and `periods` turn the policy into engine
expressions; `expressions` holds the custom-metric language.
"""
