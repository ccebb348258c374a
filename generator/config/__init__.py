"""Config stage: config.yaml → a validated, frozen `Config` (sources, site, policy).

Receives the path of config.yaml; hands on `Config` and its parts. Below every other stage:
it imports nothing of them. `loader` reads the file (`parsing` is its machinery; one module per
section: `site_section`, `sources_section`, `calendars_section`, `policy_section`);
`expressions` holds the custom-metric language; `policy`, `clock` and `periods` turn the policy
into engine expressions.
"""
