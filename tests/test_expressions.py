"""The custom-metric expression language: parsing, checking, SQL, and values in the engine.

Declarations go through load_config, as a user's would: a config.yaml whose
policy.custom_metrics holds them, one a line from line 7.
"""

from __future__ import annotations

import contextlib
import tempfile
import textwrap
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.config.expressions import (
    COMPARISONS,
    FIELD_TYPES,
    FUNCTIONS,
    MAX_DEPTH,
    Binary,
    Boolean,
    Call,
    CustomMetric,
    ExpressionError,
    In,
    Name,
    Null,
    Number,
    Text,
    Unary,
    compile_aggregate,
    compile_condition,
    format_expression,
    parse_expression,
)
from generator.config.loader import INTERACTION_FIELDS, Config, load_config
from generator.errors import ConfigError
from generator.model import METRICS_BY_ID

NAMES = {
    *INTERACTION_FIELDS,
    "frt_minutes", "resolution_hours", "within_target", "target_minutes",
    "category",
}
ACTIONABLE = '"excluded_by" IS NULL'
ALL = f"count(*) FILTER (WHERE {ACTIONABLE})"


HEADER = """\
sources:
  - name: care
    path: exports/*.csv
    dimensions: [category]
policy:
  custom_metrics:
"""


def load_yaml(custom_metrics: str, strict: bool = False, policy: str = "") -> Config:
    """Load a config.yaml whose policy.custom_metrics is this YAML (from line 7 on), followed
    by other policy keys."""
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        Path("exports").mkdir()
        Path("exports/w1.csv").write_text("id,received_at,channel\n", encoding="utf-8")
        text = HEADER + textwrap.indent(textwrap.dedent(custom_metrics), "    ")
        text += textwrap.indent(textwrap.dedent(policy), "  ")
        Path("config.yaml").write_text(text, encoding="utf-8")
        return load_config("config.yaml", strict=strict)


def load(*declarations: dict[str, object] | str, strict: bool = False) -> Config:
    """Load a config.yaml declaring these metrics, one a line from line 7 (a str as written)."""
    return load_yaml("".join(f"- {_one_line(d)}\n" for d in declarations), strict)


def _one_line(declaration: dict[str, object] | str) -> str:
    if isinstance(declaration, str):
        return declaration
    # Double quotes throughout: any text stays on one line and reads back unchanged.
    return yaml.safe_dump(
        declaration, default_flow_style=True, default_style='"', width=10**6,
        allow_unicode=True, sort_keys=False,
    ).strip()


def metrics(*declarations: dict[str, object] | str) -> tuple[CustomMetric, ...]:
    return load(*declarations).policy.custom_metrics


def problems(*declarations: dict[str, object] | str, strict: bool = False) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(*declarations, strict=strict)
    return [str(p) for p in caught.value.problems]


def ratio(numerator: str, denominator: str | None = None, **keys: object) -> dict[str, object]:
    spec: dict[str, object] = {"numerator": numerator}
    if denominator is not None:
        spec["denominator"] = denominator
    return {"id": "custom", "label": "Custom", "ratio": spec, **keys}


def aggregate(text: str, unit: str = "minutes", **keys: object) -> dict[str, object]:
    return {"id": "custom", "label": "Custom", "aggregate": text, "unit": unit, **keys}


# --- compiling to SQL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "sql"),
    [
        ("category == 'complaint'", "coalesce(\"dimension.category\" = 'complaint', FALSE)"),
        ("category != 'complaint'", "coalesce(\"dimension.category\" <> 'complaint', FALSE)"),
        ("csat >= 4", 'coalesce("csat" >= 4, FALSE)'),
        ("csat == null", '("csat" IS NULL)'),
        ("first_response_at != null", '("first_response_at" IS NOT NULL)'),
        ("public", 'coalesce("public", FALSE)'),
        ("public == false", 'coalesce("public" = FALSE, FALSE)'),
        ("not within_target", '(NOT coalesce("within_target", FALSE))'),
        (
            "channel in ['email', 'chat']",
            "coalesce(\"channel\" IN ('email', 'chat'), FALSE)",
        ),
        ("sentiment_start < -0.05", 'coalesce("sentiment_start" < (-0.05), FALSE)'),
        ("frt_minutes / 60 > 1.5", 'coalesce(("frt_minutes" / 60) > 1.5, FALSE)'),
        (
            "reach / target_minutes > 2",
            'coalesce(("reach" / nullif("target_minutes", 0)) > 2, FALSE)',
        ),
        ("-csat < -3", 'coalesce((- "csat") < (-3), FALSE)'),
        (
            "public and not moved_private or csat < 3",
            ('((coalesce("public", FALSE) AND (NOT coalesce("moved_private", FALSE))) '
            'OR coalesce("csat" < 3, FALSE))'),
        ),
        (
            "public and (moved_private or csat < 3)",
            ('(coalesce("public", FALSE) AND (coalesce("moved_private", FALSE) '
            'OR coalesce("csat" < 3, FALSE)))'),
        ),
        ("category == 'it''s'", "coalesce(\"dimension.category\" = 'it''s', FALSE)"),
        ("true", "TRUE"),
    ],
)
def test_conditions_compile_to_two_valued_sql(condition: str, sql: str) -> None:
    assert compile_condition(condition, NAMES) == sql


@pytest.mark.parametrize(
    ("expression", "sql"),
    [
        ("count()", ALL),
        ("count(public)", f'count(*) FILTER (WHERE {ACTIONABLE} AND coalesce("public", FALSE))'),
        ("median(frt_minutes)", f'quantile_cont("frt_minutes", 0.5) FILTER (WHERE {ACTIONABLE})'),
        (
            "quantile(frt_minutes, 0.9)",
            f'quantile_cont("frt_minutes", 0.9) FILTER (WHERE {ACTIONABLE})',
        ),
        ("quantile(csat, 1)", f'quantile_cont("csat", 1.0) FILTER (WHERE {ACTIONABLE})'),
        ("mean(csat)", f'CAST(avg(CAST("csat" AS DECIMAL(38, 9))) FILTER (WHERE {ACTIONABLE}) AS DOUBLE)'),
        ("min(csat)", f'min("csat") FILTER (WHERE {ACTIONABLE})'),
        ("max(reach)", f'max("reach") FILTER (WHERE {ACTIONABLE})'),
        ("sum(reach)", f'coalesce(CAST(sum(CAST("reach" AS DECIMAL(38, 9))) FILTER (WHERE {ACTIONABLE}) AS DOUBLE), 0)'),
        (
            "sum(reach) / count()",
            f'(coalesce(CAST(sum(CAST("reach" AS DECIMAL(38, 9))) FILTER (WHERE {ACTIONABLE}) AS DOUBLE), 0) / nullif({ALL}, 0))',
        ),
        (
            "median(resolution_hours) * 60",
            f'(quantile_cont("resolution_hours", 0.5) FILTER (WHERE {ACTIONABLE}) * 60)',
        ),
        ("-count() + 1", f"((- {ALL}) + 1)"),
        (
            "mean(frt_minutes / 60)",
            f'CAST(avg(CAST(("frt_minutes" / 60) AS DECIMAL(38, 9))) FILTER (WHERE {ACTIONABLE}) AS DOUBLE)',
        ),
    ],
)
def test_aggregates_compile_to_sql_over_actionable_rows(expression: str, sql: str) -> None:
    assert compile_aggregate(expression, NAMES) == sql


def test_a_ratio_counts_numerator_within_denominator() -> None:
    (metric,) = metrics(ratio("within_target", "channel == 'email'"))
    population = f"{ACTIONABLE} AND coalesce(\"channel\" = 'email', FALSE)"
    assert metric.n_sql == f"count(*) FILTER (WHERE {population})"
    assert metric.value_sql == (
        f'(CAST(count(*) FILTER (WHERE {population} AND coalesce("within_target", FALSE)) '
        f"AS DOUBLE) / nullif(count(*) FILTER (WHERE {population}), 0))"
    )
    assert metric.unit == "ratio"
    assert metric.kind == "ratio"
    assert metric.n_label == "actionable interactions where channel is 'email'"
    assert metric.definition == (
        "Among actionable interactions where channel == 'email', the share where within_target."
    )
    assert metric.needs == ("channel", "first_response_at")
    assert metric.names == ("channel", "within_target")


@pytest.mark.parametrize(("denominator", "n_label"), [
    ("frt_minutes != null", "actionable interactions with a first response"),
    ("resolved_at == null", "actionable interactions without a resolution"),
    ("frt_minutes <= 15", "actionable interactions where first response time is at most 15 minutes"),
    ("public and not moved_private",
     "actionable interactions where public and not moved to a private channel"),
    ("channel in ['email', 'x'] or csat >= 4",
     "actionable interactions where channel is one of 'email', 'x' or csat is at least 4"),
    ("frt_minutes / 60 > 2", "actionable interactions where 'frt_minutes / 60 > 2'"),
])
def test_a_ratio_names_its_sample_in_words_not_in_the_expression_language(
    denominator: str, n_label: str,
) -> None:
    (metric,) = metrics(ratio("within_target", denominator))
    assert metric.n_label == n_label


def test_a_declaration_becomes_a_metric_with_defaults() -> None:
    (complaints, frt) = metrics(
        {"id": "complaint_share", "label": "Complaint share",
         "ratio": {"numerator": "category == 'complaint'"}},
        {"id": "slowest", "label": "Slowest reply", "aggregate": "max(frt_minutes)",
         "unit": "minutes", "better": "lower"},
    )
    assert (complaints.id, complaints.label, complaints.unit, complaints.better) == (
        "complaint_share", "Complaint share", "ratio", "higher",
    )
    assert complaints.definition == (
        "Share of actionable interactions where category == 'complaint'."
    )
    assert complaints.n_sql == ALL
    assert complaints.needs == ()
    assert (frt.unit, frt.better, frt.kind, frt.n_sql) == ("minutes", "lower", "aggregate", ALL)
    assert frt.definition == "max(frt_minutes) over actionable interactions."
    info = frt.info()
    assert (info.id, info.unit, info.better, info.needs) == (
        "slowest", "minutes", "lower", ("first_response_at",),
    )
    assert info.n_label == "actionable interactions"


# --- values in the engine ---------------------------------------------------------------------

ROWS = [
    # id, channel, category, excluded_by, frt_minutes, within_target, csat, reach, public
    ("1", "email", "complaint", None, 10.0, True, 5.0, 100.0, False),
    ("2", "email", "question", None, 30.0, True, 4.0, None, False),
    ("3", "twitter", "complaint", None, 90.0, False, 2.0, 5000.0, True),
    ("4", "twitter", None, None, None, False, None, 20.0, True),
    ("5", "chat", "praise", None, 20.0, True, None, None, None),
    ("6", "email", "complaint", "no_reply_needed", 5.0, True, 1.0, 999.0, False),
    ("7", "twitter", "complaint", "spam", None, False, None, 10.0, True),
    ("8", "sms", "complaint", "spam", 1.0, True, 5.0, 1.0, True),
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE judged (id VARCHAR, channel VARCHAR, \"dimension.category\" VARCHAR, excluded_by VARCHAR, "
        "frt_minutes DOUBLE, within_target BOOLEAN, csat DOUBLE, reach DOUBLE, public BOOLEAN)"
    )
    con.executemany("INSERT INTO judged VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    return con


def evaluate(con: duckdb.DuckDBPyConnection, metric: CustomMetric) -> tuple[float, int]:
    row = con.execute(f"SELECT {metric.value_sql}, {metric.n_sql} FROM judged").fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.mark.parametrize(
    ("declaration", "value", "n"),
    [
        (ratio("category == 'complaint'"), 2 / 5, 5),
        (ratio("not (category == 'complaint')"), 3 / 5, 5),  # a missing category is not one
        (ratio("category != 'complaint'"), 2 / 5, 5),  # ... and a comparison with it is false
        (ratio("category in ['question', 'praise']"), 2 / 5, 5),
        (ratio("within_target", "category == 'complaint'"), 1 / 2, 2),
        (ratio("csat >= 4", "csat != null"), 2 / 3, 3),
        (ratio("public == false"), 2 / 5, 5),  # an unknown `public` is neither
        (ratio("public or reach > 1000"), 2 / 5, 5),
        (aggregate("median(frt_minutes)"), 25.0, 5),
        (aggregate("quantile(frt_minutes, 0.9)"), 72.0, 5),  # type 7: 30 + 0.7 × 60
        (aggregate("mean(frt_minutes)"), 37.5, 5),
        (aggregate("min(frt_minutes) + max(frt_minutes)"), 100.0, 5),
        (aggregate("sum(reach) / count()", "count"), 1024.0, 5),
        (aggregate("count(public) * 100 / count()", "score"), 40.0, 5),
        (aggregate("count(csat == 9) / count(csat == 10)", "count"), None, 5),
        (aggregate("mean(csat) - 1", "score"), 8 / 3, 5),
    ],
)
def test_compiled_metrics_give_hand_computed_values(
    con: duckdb.DuckDBPyConnection, declaration: dict[str, object], value: float | None, n: int
) -> None:
    (metric,) = metrics(declaration)
    got, got_n = evaluate(con, metric)
    assert got_n == n
    if value is None:
        assert got is None
    else:
        assert got == pytest.approx(value)


def test_metrics_group_by_segment_and_are_empty_without_actionable_rows(
    con: duckdb.DuckDBPyConnection,
) -> None:
    share, frt, reach = metrics(
        {"id": "share", "label": "Share", "ratio": {"numerator": "category == 'complaint'"}},
        {"id": "frt", "label": "FRT", "aggregate": "median(frt_minutes)", "unit": "minutes"},
        {"id": "reach", "label": "Reach", "aggregate": "sum(reach) / count()", "unit": "count"},
    )
    rows = con.execute(
        f"SELECT channel, {share.value_sql}, {share.n_sql}, {frt.value_sql}, {reach.value_sql} "
        "FROM judged GROUP BY channel ORDER BY channel"
    ).fetchall()
    assert rows == [
        ("chat", 0.0, 1, 20.0, 0.0),
        ("email", 0.5, 2, 20.0, 50.0),
        ("sms", None, 0, None, None),
        ("twitter", 0.5, 2, 90.0, 2510.0),
    ]


text_values = st.text(max_size=12)


@settings(max_examples=60, deadline=None)
@given(value=text_values)
def test_any_text_literal_is_escaped_and_matches_exactly(value: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE judged (excluded_by VARCHAR, \"dimension.category\" VARCHAR)")
    con.executemany("INSERT INTO judged VALUES (NULL, ?)", [(value,), ("other",)])
    literal = "'" + value.replace("'", "''") + "'"
    (metric,) = metrics(ratio(f"category == {literal}"))
    got, n = evaluate(con, metric)
    assert n == 2
    assert got == (1.0 if value == "other" else 0.5)


# --- well-typed random conditions always run --------------------------------------------------

numeric = st.sampled_from(["frt_minutes", "csat", "reach"])
numbers = st.one_of(
    st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
)


def _comparisons() -> st.SearchStrategy[str]:
    number_text = numbers.map(lambda v: format_expression(Number(v)))
    return st.one_of(
        st.builds(lambda f, op, v: f"{f} {op} {v}", numeric, st.sampled_from(COMPARISONS),
                  number_text),
        st.builds(lambda op, v: f"category {op} {v}", st.sampled_from(COMPARISONS),
                  text_values.map(lambda t: format_expression(Text(t)))),
        st.sampled_from(["public", "within_target", "csat == null", "category != null"]),
    )


conditions = st.recursive(
    _comparisons(),
    lambda inner: st.one_of(
        inner.map(lambda c: f"not ({c})"),
        st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(["and", "or"]),
                  inner),
    ),
    max_leaves=6,
)


@settings(max_examples=80, deadline=None)
@given(numerator=conditions, denominator=st.none() | conditions)
def test_well_typed_ratios_run_and_stay_within_zero_and_one(
    numerator: str, denominator: str | None
) -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE judged (id VARCHAR, channel VARCHAR, \"dimension.category\" VARCHAR, excluded_by VARCHAR, "
        "frt_minutes DOUBLE, within_target BOOLEAN, csat DOUBLE, reach DOUBLE, public BOOLEAN)"
    )
    con.executemany("INSERT INTO judged VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    (metric,) = metrics(ratio(numerator, denominator))
    value, n = evaluate(con, metric)
    assert 0 <= n <= 5
    assert (value is None) == (n == 0)
    assert value is None or 0.0 <= value <= 1.0


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            ratio("categroy == 'complaint'"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a field or dimension "
            "name at column 1, found 'categroy'. Hint: did you mean 'category'?"),
        ),
        (
            ratio("category == complaint"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a number, 'text', "
            "true, false or null after '==' at column 13, found 'complaint'. "
            "Hint: quote text values: 'complaint'."),
        ),
        (
            ratio("frt_minutes <= target_minutes"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a number, 'text', "
            "true, false or null after '<=' at column 16, found 'target_minutes'. "
            "Hint: compare a field with a fixed value; fields cannot be compared to fields."),
        ),
        (
            ratio("within_target", "category"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.denominator: expected a condition at "
            "column 1, found 'category'. Hint: compare it with a value, e.g. category == '…'."),
        ),
        (
            ratio("count(public) > 3"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a condition on one "
            "interaction at column 1, found 'count'. Hint: a ratio counts the interactions "
            "itself: write only the condition, or declare an 'aggregate'."),
        ),
        (
            aggregate("median(median(frt_minutes))"),
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected a value of one "
            "interaction inside 'median' at column 8, found 'median'. "
            "Hint: aggregates cannot be nested."),
        ),
        (
            aggregate("avg(frt_minutes)"),
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected a function: count, sum, "
            "mean, median, quantile, min or max at column 1, found 'avg'. "
            "Hint: did you mean 'mean'?"),
        ),
        (
            aggregate("quantile(frt_minutes, 90)"),
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected a number from 0 to 1 at "
            "column 23, found '90'. Hint: write percentiles as fractions: 0.9 for 90."),
        ),
        (
            aggregate("quantile(frt_minutes, q)"),
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected a number from 0 to 1 at "
            "column 23, found 'q'."),
        ),
        (
            aggregate("frt_minutes"),
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected an aggregate such as "
            "median(frt_minutes) or count() at column 1, found 'frt_minutes'. "
            "Hint: wrap the field in an aggregate, e.g. mean(frt_minutes)."),
        ),
        (
            aggregate("sum(public)", "count"),
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected a number at column 5, "
            "found 'public'. Hint: count(public) counts the interactions where it holds."),
        ),
        (
            aggregate("mean(resolved_at)", "hours"),
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected a number at column 6, "
            "found 'resolved_at'. Hint: use frt_minutes or resolution_hours for durations."),
        ),
        (
            ratio("csat == '4'"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a number after '==' "
            "at column 9, found \"'4'\". Hint: remove the quotes."),
        ),
        (
            ratio("csat >= null"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a number or 'text' "
            "after '>=' at column 9, found 'null'. "
            "Hint: test for a missing value with '== null' or '!= null'."),
        ),
        (
            ratio("4 <= csat"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a field or an "
            "expression over fields before '<=' at column 1, found '4'. "
            "Hint: write the field on the left and the value on the right, e.g. csat >= 4."),
        ),
        (
            ratio("1 < csat < 5"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected 'and' or 'or' "
            "between comparisons at column 10, found '<'. "
            "Hint: write 'a < x and x < b' rather than 'a < x < b'."),
        ),
        (
            ratio("csat = 5"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a value or an "
            "operator at column 6, found '='. Hint: compare with '=='."),
        ),
        (
            ratio("category == 'x' and"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a value at column "
            "20, found the end of the expression."),
        ),
        (
            ratio(""),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a value at column "
            "1, found the end of the expression."),
        ),
        (
            ratio("category == 'x' AND public"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected an operator or the "
            "end of the expression at column 17, found 'AND'. Hint: did you mean 'and'?"),
        ),
        (
            ratio("public == 'yes'"),
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected true or false after "
            "'==' at column 11, found \"'yes'\". Hint: a yes/no field can also be the condition "
            "itself, or be negated with 'not'."),
        ),
    ],
)
def test_expression_errors_name_the_key_and_column(
    declaration: dict[str, object], message: str
) -> None:
    assert problems(declaration) == [message]


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            {**ratio("public"), "id": "sla_attainment"},
            ("config.yaml:7: policy.custom_metrics[0].id: expected an id that is not a built-in "
            "metric's, found 'sla_attainment'. Hint: choose another id."),
        ),
        (
            {**ratio("public"), "id": "net_sentiment"},
            ("config.yaml:7: policy.custom_metrics[0].id: expected an id that is not a built-in "
            "metric's, found 'net_sentiment'. Hint: choose another id."),
        ),
        (
            {**ratio("public"), "id": "Complaint-Share"},
            ("config.yaml:7: policy.custom_metrics[0].id: expected a metric id of lowercase "
            "letters, digits and '_', starting with a letter, found 'Complaint-Share'. "
            "Hint: did you mean 'complaint_share'?"),
        ),
        (
            {"label": "No id", "ratio": {"numerator": "public"}},
            ("config.yaml:7: policy.custom_metrics[0].id: missing required key: expected a metric "
            "id of lowercase letters, digits and '_', starting with a letter."),
        ),
        (
            {"id": "nothing", "label": "Nothing"},
            ("config.yaml:7: policy.custom_metrics[0]: missing required key: expected 'ratio' or "
            "'aggregate'. Hint: declare a share as 'ratio: {numerator: \"…\"}' or a figure as "
            "'aggregate: \"median(frt_minutes)\"'."),
        ),
        (
            {**ratio("public"), "aggregate": "count()"},
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected either 'ratio' or "
            "'aggregate', not both."),
        ),
        (
            {"id": "frt", "label": "FRT", "aggregate": "median(frt_minutes)"},
            ("config.yaml:7: policy.custom_metrics[0].unit: missing required key: expected one "
            "of 'minutes', 'hours', 'count', 'score', 'ratio'."),
        ),
        (
            {"id": "frt", "label": "FRT", "aggregate": "median(frt_minutes)", "unit": "secs"},
            ("config.yaml:7: policy.custom_metrics[0].unit: expected one of 'minutes', 'hours', "
            "'count', 'score', 'ratio', found 'secs'."),
        ),
        (
            ratio("public", unit="minutes"),
            ("config.yaml:7: policy.custom_metrics[0].unit: expected 'ratio' (or no unit) for a "
            "ratio metric, found 'minutes'. Hint: declare the metric with 'aggregate' for "
            "another unit."),
        ),
        (
            ratio("public", better="up"),
            ("config.yaml:7: policy.custom_metrics[0].better: expected one of 'higher', 'lower', "
            "found 'up'."),
        ),
        (
            {"id": "x", "label": "X", "ratio": {"numerater": "public"}},
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerater: unknown key. "
            "Hint: did you mean 'numerator'?"),
        ),
        (
            "{id: x, label: X, ratio: {numerator: true}}",
            ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a condition such "
            "as \"category == 'x'\" as text, found 'true'. Hint: quote the whole expression."),
        ),
        (
            "{id: x, label: X, aggregate: 5, unit: count}",
            ("config.yaml:7: policy.custom_metrics[0].aggregate: expected an aggregate such as "
            "'median(frt_minutes)' as text, found '5'. Hint: quote the whole expression."),
        ),
        (
            "just text",
            ("config.yaml:7: policy.custom_metrics[0]: expected a mapping with 'id', 'label' and "
            "'ratio' or 'aggregate', found 'just text'."),
        ),
        (
            {"id": "x", "label": "X", "ratio": "public"},
            ("config.yaml:7: policy.custom_metrics[0].ratio: expected a mapping with 'numerator' "
            "and optionally 'denominator', found 'public'."),
        ),
        (
            {"id": "x", "label": " ", "ratio": {"numerator": "public"}},
            ("config.yaml:7: policy.custom_metrics[0].label: expected a label to show on cards "
            "and charts, found ' '."),
        ),
        (
            "{id: 12, label: X, ratio: {numerator: public}}",
            ("config.yaml:7: policy.custom_metrics[0].id: expected a metric id of lowercase "
            "letters, digits and '_', starting with a letter, found '12'."),
        ),
    ],
)
def test_declaration_errors_name_the_key(
    declaration: dict[str, object] | str, message: str
) -> None:
    assert problems(declaration)[0] == message


def test_every_problem_of_every_metric_is_listed_at_once() -> None:
    found = problems(
        {"id": "a", "label": "A", "ratio": {"numerator": "categroy == 'x'",
                                            "denominator": "csat >= '4'"}},
        {"id": "a", "label": "Again", "aggregate": "mean(frt_minutes)", "unit": "minutes"},
        {"id": "b", "lable": "B", "aggregate": "sum(reach) + reach", "unit": "count"},
    )
    assert found == [
        ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a field or dimension "
        "name at column 1, found 'categroy'. Hint: did you mean 'category'?"),
        ("config.yaml:7: policy.custom_metrics[0].ratio.denominator: expected a number after '>=' "
        "at column 9, found \"'4'\". Hint: remove the quotes."),
        ("config.yaml:8: policy.custom_metrics[1].id: expected a unique metric id, found 'a'. "
        "Hint: line 7 already has it."),
        "config.yaml:9: policy.custom_metrics[2].lable: unknown key. Hint: did you mean 'label'?",
        ("config.yaml:9: policy.custom_metrics[2].label: missing required key: expected a label "
        "to show on cards and charts."),
        ("config.yaml:9: policy.custom_metrics[2].aggregate: expected an aggregate such as "
        "median(frt_minutes) or count() at column 14, found 'reach'. "
        "Hint: wrap the field in an aggregate, e.g. mean(reach)."),
    ]


def test_problems_name_the_line_of_their_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml("""\
            - id: x
              label: X
              ratio:
                numerator: "csat >"
              unit: minutes
            """)
    assert [str(p) for p in caught.value.problems] == [
        ("config.yaml:10: policy.custom_metrics[0].ratio.numerator: expected a value at column "
        "7, found the end of the expression."),
        ("config.yaml:11: policy.custom_metrics[0].unit: expected 'ratio' (or no unit) for a "
        "ratio metric, found 'minutes'. Hint: declare the metric with 'aggregate' for another "
        "unit."),
    ]


def test_a_reused_id_and_a_missing_label_are_both_reported() -> None:
    assert problems('{id: csat, ratio: {numerator: "csat >= 4"}}') == [
        ("config.yaml:7: policy.custom_metrics[0].id: expected an id that is not a built-in "
        "metric's, found 'csat'. Hint: choose another id."),
        ("config.yaml:7: policy.custom_metrics[0].label: missing required key: expected a label "
        "to show on cards and charts."),
    ]


def test_unknown_keys_are_warnings_and_errors_when_strict() -> None:
    declaration = {**ratio("public"), "colour": "red"}
    unknown = (
        "config.yaml:7: policy.custom_metrics[0].colour: unknown key. Hint: the known keys are "
        "'id', 'label', 'ratio', 'aggregate', 'unit', 'better'."
    )
    assert load(declaration).warnings == (unknown,)
    assert problems(declaration, strict=True) == [unknown]


def test_a_goal_naming_a_metric_with_errors_adds_no_second_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml(
            '- {id: share, label: Share, ratio: {numerator: "categroy == \'x\'"}}\n',
            policy="goals: {share: {min: 0.5}}\n",
        )
    assert [str(p) for p in caught.value.problems] == [
        ("config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a field or dimension "
        "name at column 1, found 'categroy'. Hint: did you mean 'category'?"),
    ]


def test_builtin_ids_are_all_refused() -> None:
    for metric_id in METRICS_BY_ID:
        assert "built-in" in problems({**ratio("public"), "id": metric_id})[0]


def test_names_are_limited_to_fields_declared_dimensions_and_derived_columns() -> None:
    assert problems(ratio("excluded_by == null")) == [
        "config.yaml:7: policy.custom_metrics[0].ratio.numerator: expected a field or dimension "
        "name at column 1, found 'excluded_by'. Hint: the known names are 'category', 'channel', "
        "'csat', 'first_response_at', 'frt_minutes', 'id', 'moved_private', 'needs_reply', "
        "'public', 'reach', 'received_at', 'resolution_hours', 'resolved_at', 'sentiment_end', "
        "'sentiment_start', 'target_minutes', 'within_target'."
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1); DROP TABLE x; --",
            ("expected a value or an operator at column 3, found ';'. "
            "Hint: write one expression, without ';'."),
        ),
        (
            "\"a\" || 'b'",
            ("expected a value or an operator at column 1, found '\"'. "
            "Hint: write text in single quotes: 'like this'."),
        ),
        (
            "category == 'a' || 'b'",
            "expected an operator at column 17, found '||'. Hint: write 'or'.",
        ),
        (
            'category" = 1 OR "x',
            ("expected a value or an operator at column 9, found '\"'. "
            "Hint: write text in single quotes: 'like this'."),
        ),
        (
            "category == 'x'' OR 1=1",
            ("expected a closing quote for the text at column 13, found \"'x'' OR 1=1\". "
            "Hint: end the text with ' (write '' for a quote inside it)."),
        ),
        (
            "csat > 3 -- comment",
            ("expected an operator at column 10, found '--'. "
            "Hint: expressions have no comments (write '- -' for a double minus)."),
        ),
        (
            "`category` == 'x'",
            "expected a value or an operator at column 1, found '`'.",
        ),
        (
            "category == 'x'; SELECT 1",
            ("expected a value or an operator at column 16, found ';'. "
            "Hint: write one expression, without ';'."),
        ),
    ],
)
def test_hostile_inputs_are_rejected_with_a_message(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        metrics(ratio(text))
    assert str(caught.value) == (
        "config.yaml:7: policy.custom_metrics[0].ratio.numerator: " + message
    )


def test_found_values_with_single_quotes_are_shown_in_double_quotes_not_nested() -> None:
    unclosed = ratio("category == '" + "x" * 90, id="other")
    assert problems(aggregate("median(category == 'x')"), unclosed) == [
        ("config.yaml:7: policy.custom_metrics[0].aggregate: expected a number at column 8, found "
        "\"category == 'x'\". Hint: count(category == 'x') counts the interactions where it "
        "holds."),
        ("config.yaml:8: policy.custom_metrics[1].ratio.numerator: expected a closing quote for the "
        f"text at column 13, found \"'{'x' * 76}...\". "
        "Hint: end the text with ' (write '' for a quote inside it)."),
    ]


def test_unknown_functions_never_reach_sql() -> None:
    assert problems(aggregate("read_csv('/etc/passwd')")) == [
        ("config.yaml:7: policy.custom_metrics[0].aggregate: expected a function: count, sum, mean, "
        "median, quantile, min or max at column 1, found 'read_csv'."),
    ]


def test_text_with_quotes_is_escaped_in_sql() -> None:
    sql = compile_condition("category == 'x'' OR 1=1 --'", NAMES)
    assert sql == "coalesce(\"dimension.category\" = 'x'' OR 1=1 --', FALSE)"


def test_field_types_cover_every_canonical_field() -> None:
    assert set(INTERACTION_FIELDS) <= set(FIELD_TYPES)


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("(" * 1000 + "csat" + ")" * 1000, 193),
        ("not " * 300 + "public", 769),
        ("- " * 500 + "1", 385),
        ("count()" + " + count()" * 100, 371),
        ("csat in [1]" + " or csat in [1]" * 100, 580),
    ],
)
def test_deep_nesting_is_refused_without_a_crash(text: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    assert caught.value.expected.endswith(f"levels of nesting at column {column}")


def test_nesting_up_to_the_limit_is_fine() -> None:
    text = "count()" + " + count()" * (MAX_DEPTH - 1)
    assert compile_aggregate(text, NAMES).count("count(*)") == MAX_DEPTH
    assert compile_condition("(" * 100 + "public" + ")" * 100, NAMES) == 'coalesce("public", FALSE)'


def test_a_syntax_error_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="column 6"):
        parse_expression("csat ? 3")


# --- the parser round-trips through the pretty-printer ----------------------------------------

names = st.sampled_from(["category", "frt_minutes", "csat", "x_1", "_private", "count"])
literals = st.one_of(
    st.integers(-(10**20), 10**20).map(Number),
    st.floats(allow_nan=False, allow_infinity=False).map(Number),
    st.text(max_size=6).map(Text),
    st.booleans().map(Boolean),
    st.just(Null()),
)
binary_ops = st.sampled_from(["or", "and", *COMPARISONS, "+", "-", "*", "/"])
functions = st.sampled_from([*FUNCTIONS, "avg"])


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.builds(Unary, st.sampled_from(["-", "not"]), children),
        st.builds(Binary, binary_ops, children, children),
        st.builds(In, children, st.lists(literals, min_size=1, max_size=3).map(tuple)),
        st.builds(Call, functions, st.lists(children, max_size=3).map(tuple)),
    )


trees = st.recursive(st.one_of(literals, names.map(Name)), _extend, max_leaves=25)


def depth(node: object) -> int:
    children: tuple[object, ...] = ()
    if isinstance(node, Unary):
        children = (node.operand,)
    elif isinstance(node, Binary):
        children = (node.left, node.right)
    elif isinstance(node, In):
        children = (node.operand, *node.items)
    elif isinstance(node, Call):
        children = node.args
    return 1 + max((depth(child) for child in children), default=0)


@settings(max_examples=400, deadline=None)
@given(tree=trees.filter(lambda tree: depth(tree) <= MAX_DEPTH))
def test_printed_trees_parse_back_to_the_same_tree(tree) -> None:
    text = format_expression(tree)
    assert parse_expression(text) == tree
    assert format_expression(parse_expression(text)) == text


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("-5", Number(-5)),
        ("-(5)", Unary("-", Number(5))),
        ("- -x", Unary("-", Unary("-", Name("x")))),
        ("a - -5", Binary("-", Name("a"), Number(-5))),
        ("not a == 1", Unary("not", Binary("==", Name("a"), Number(1)))),
        ("not a and b", Binary("and", Unary("not", Name("a")), Name("b"))),
        ("a or b and c", Binary("or", Name("a"), Binary("and", Name("b"), Name("c")))),
        ("1 - 2 - 3", Binary("-", Binary("-", Number(1), Number(2)), Number(3))),
        ("1 + 2 * 3", Binary("+", Number(1), Binary("*", Number(2), Number(3)))),
        ("x in [1, -2.5, 'a', true, null]",
         In(Name("x"), (Number(1), Number(-2.5), Text("a"), Boolean(True), Null()))),
        ("count()", Call("count", ())),
        ("quantile(x, .9)", Call("quantile", (Name("x"), Number(0.9)))),
        ("1e3", Number(1000.0)),
        ("'it''s'", Text("it's")),
    ],
)
def test_precedence_and_literals(text: str, tree: object) -> None:
    assert parse_expression(text) == tree
