"""Load and validate config.yaml into frozen dataclasses (one per YAML section).

The loader collects every problem before failing and names ``file:line`` and the dotted key
path of each. Unknown keys are warnings (errors with ``strict``), with a did-you-mean hint; when
the file has errors, they are listed among them, as a misspelt key is often the cause.
The machinery is in `parsing`; each section's dataclasses and parsers are in its own module
(`site_section`, `sources_section`, `calendars_section`, `policy_section`), re-exported here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from generator.config.calendars_section import WEEKDAYS, Calendar, CalendarsParser
from generator.config.parsing import (
    PLAUSIBLE_YEARS,
    SafeLoader,
    YamlTooDeep,
    _by_line,
    _line,
    parse_duration,
)
from generator.config.policy_section import (
    _BUILTIN_METRICS,
    CLOCKS,
    Blackout,
    CsatPolicy,
    ErrorBudget,
    ExcludeRule,
    Goal,
    Policy,
    PolicyParser,
    PolicyVersion,
    SentimentPolicy,
    TargetRule,
    Where,
)
from generator.config.privacy import (
    KEY_VARIABLE,
    MIN_KEY_LENGTH,
    hashed_fields,
    key_id,
    pseudonymise_config,
)
from generator.config.site_section import People, SiteConfig, SiteParser
from generator.config.sources_section import (
    DERIVED_SHAPES,
    INTERACTION_FIELDS,
    REQUIRED_FIELDS,
    ROW_FIELDS,
    TIMESTAMP_FIELDS,
    SourceConfig,
    SourcesParser,
    site_data_through,
)
from generator.errors import ConfigError, Problem, did_you_mean, quoted

__all__ = [
    "CLOCKS",
    "DERIVED_SHAPES",
    "INTERACTION_FIELDS",
    "PLAUSIBLE_YEARS",
    "REQUIRED_FIELDS",
    "ROW_FIELDS",
    "TIMESTAMP_FIELDS",
    "WEEKDAYS",
    "Blackout",
    "Calendar",
    "Config",
    "CsatPolicy",
    "ErrorBudget",
    "ExcludeRule",
    "Goal",
    "People",
    "Policy",
    "PolicyVersion",
    "SafeLoader",
    "SentimentPolicy",
    "SiteConfig",
    "SourceConfig",
    "TargetRule",
    "Where",
    "YamlTooDeep",
    "load_config",
    "parse_duration",
    "site_data_through",
]


@dataclass(frozen=True)
class Config:
    """A whole, validated config.yaml."""

    path: Path
    """Absolute path of config.yaml."""
    site: SiteConfig
    """The `site` section."""
    sources: tuple[SourceConfig, ...]
    """The `sources` section."""
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    """The `calendars` section."""
    policy: Policy = field(default_factory=Policy)
    """The `policy` section."""
    warnings: tuple[str, ...] = ()
    """Non-fatal problems (unknown keys…), already formatted."""

    @property
    def root(self) -> Path:
        """The folder of config.yaml; every relative path is relative to it."""
        return self.path.parent


def load_config(path: Path | str, strict: bool = False) -> Config:
    """Read, validate and return config.yaml; raise ConfigError listing every problem."""
    label = os.fspath(path)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            Problem(
                label,
                "file not found",
                hint="pass the path of a config.yaml with --config, or create a site with "
                "'carecard init DIR'.",
            )
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            Problem(label, "cannot read the file", "UTF-8 text", hint="save it as UTF-8.")
        ) from None
    except OSError as exc:
        if file.is_dir():
            example = os.fspath(file / "config.yaml")
            raise ConfigError(
                Problem(
                    label,
                    "cannot read the file (it is a folder)",
                    hint=f"--config takes the config file (e.g. '{example}'), not its folder.",
                )
            ) from None
        raise ConfigError(Problem(label, f"cannot read the file ({exc.strerror})")) from None
    try:
        loader = _Loader(label, file.resolve().parent, text, strict)
    except yaml.reader.ReaderError as exc:  # a control character the YAML reader refuses
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(Problem(
            f"{label}:{line}", "invalid YAML", "printable text",
            f"the character #x{exc.character:04x}",
            "remove the control character; a config.yaml holds text only.",
        )) from None
    try:
        return loader.load(file.resolve())
    except YamlTooDeep as exc:
        raise ConfigError(exc.problem(
            f"{label}:{exc.line + 1}", "", "check the indentation and the brackets; a config "
            "needs a few levels.",
        )) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(
            Problem(
                f"{label}:{line}",
                f"invalid YAML: {exc.problem or exc.context}",
                hint="check the indentation, and quote values that contain ': ' or start with "
                "a special character.",
            )
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(label, f"invalid YAML: {exc}")) from None
    finally:
        loader.yaml.dispose()


class _Loader(SiteParser, SourcesParser, CalendarsParser, PolicyParser):
    """The whole loader: the parsers of every section, and what the sections tell each other."""

    def __init__(self, label: str, root: Path, text: str, strict: bool) -> None:
        super().__init__(label, root, text, strict)
        self.attributes = set(INTERACTION_FIELDS)
        self.calendar_names = set()
        self.overlaps = set()
        self.metric_ids = set(_BUILTIN_METRICS)

    def load(self, path: Path) -> Config:
        """Validate the whole file; raise ConfigError when anything is wrong."""
        root = self.yaml.get_single_node()
        if not isinstance(root, yaml.MappingNode):
            self.error(
                _line(root) if root else 1,
                "top level",
                "a mapping with the sections 'site', 'sources', 'calendars' and 'policy'",
                self.found(root) if root else "",
            )
            raise ConfigError([p for _, p in self.problems])
        values = self.fields(
            root,
            "",
            {
                "site": self.site,
                "sources": self.sources,
                "calendars": self.calendars,
                "policy": self.policy,
            },
            required={"sources": "a list of sources, each with a 'name' and a 'path'"},
        )
        site = values.get("site") or self.site(None, "site")
        self.check_segment_limits(self.child(root, "site"), values.get("sources", ()))
        sources = values.get("sources", ())
        policy = values.get("policy", Policy())
        if site.people is not None:
            self._check_people(root, site.people, sources)
        if site.pseudonymise:
            site, sources, policy = self._pseudonymised(root, site, sources, policy)
        if self.problems:
            # A misspelt key is often the cause of an error (`calender` leaves `calendar`
            # missing), so its did-you-mean is listed with the errors; first on a shared line.
            raise ConfigError(_by_line(self.warnings + self.problems))
        return Config(
            path=path,
            site=site,
            sources=sources,
            calendars=values.get("calendars", {}),
            policy=policy,
            warnings=tuple(str(w) for w in _by_line(self.warnings)),
        )

    def _check_people(
        self, root: yaml.Node, people: People, sources: tuple[SourceConfig, ...]
    ) -> None:
        """site.privacy.people must name a dimension that a source publishes."""
        node = self.child(self.child(self.child(self.child(root, "site"), "privacy"), "people"),
                          "dimension")
        known = sorted({d for s in sources for d in s.dimensions})
        if people.dimension not in known:
            self.error(_line(node) if node is not None else 1,
                       "site.privacy.people.dimension", "a dimension of a source",
                       people.dimension,
                       did_you_mean(people.dimension, known)
                       or (f"the sources' dimensions are {quoted(known)}; declare the column "
                           "that names the person (e.g. agent) under a source's dimensions."
                           if known else "no source declares dimensions; add the column "
                           "that names the person (e.g. agent) to a source's dimensions."))

    def _pseudonymised(
        self, root: yaml.Node, site: SiteConfig, sources: tuple[SourceConfig, ...],
        policy: Policy,
    ) -> tuple[SiteConfig, tuple[SourceConfig, ...], Policy]:
        """Check site.privacy.pseudonymise (known names, a key in CARECARD_KEY) and return the
        site with the key, the sources told what to pseudonymise, and the policy with the values
        its rules name pseudonymised."""
        node = self.child(self.child(self.child(root, "site"), "privacy"), "pseudonymise")
        line = _line(node) if node is not None else 1
        known = ["author"] + sorted({d for s in sources for d in s.dimensions})
        for name in site.pseudonymise:
            if name not in known:
                self.error(line, "site.privacy.pseudonymise", "a dimension or 'author' ("
                           + ", ".join(repr(k) for k in known) + ")", name,
                           "pseudonymise the dimensions that name people, like agent; "
                           "'author' is the author of a message (message-level sources).")
        key = os.environ.get(KEY_VARIABLE, "")
        if len(key) < MIN_KEY_LENGTH:
            self.error(line, "site.privacy.pseudonymise",
                       f"a key of at least {MIN_KEY_LENGTH} characters in the environment "
                       f"variable {KEY_VARIABLE}",
                       "nothing" if not key else f"{len(key)} characters",
                       f"set {KEY_VARIABLE} to a long random secret (e.g. the output of "
                       "'openssl rand -hex 32') and keep it: the same key gives the same "
                       "pseudonyms in every build.")
            return site, sources, policy
        names = hashed_fields(site.pseudonymise)
        ident = key_id(key)
        sources = tuple(
            pseudonymise_config(replace(s, pseudonymised=site.pseudonymise,
                                        pseudonym_key_id=ident), names, key)
            for s in sources)
        return (replace(site, pseudonym_key=key), sources,
                pseudonymise_config(policy, names, key))
