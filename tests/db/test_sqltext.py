"""Reading SQL text: statements, keywords and parameters outside strings and comments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helix_agents.db.sqltext import (
    first_keyword,
    inline_nulls,
    insert_target,
    is_transaction_control,
    param_spans,
    split_statements,
    strip_comments,
    words,
)


def test_split_statements_ignores_semicolons_in_strings_names_and_comments() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE "a;b" (x TEXT DEFAULT ';');  /* block; comment */
    INSERT INTO [c;d] VALUES ('it''s; fine', `e;f`);
    ;;
    SELECT 1
    """
    assert split_statements(script) == [
        "CREATE TABLE \"a;b\" (x TEXT DEFAULT ';')",
        "INSERT INTO [c;d] VALUES ('it''s; fine', `e;f`)",
        "SELECT 1",
    ]


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    script = (
        "CREATE TEMP TRIGGER IF NOT EXISTS tr AFTER INSERT ON t BEGIN "
        "UPDATE u SET n = CASE WHEN new.a THEN 1 ELSE 2 END; DELETE FROM v; END;\n"
        "SELECT 2;"
    )
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[0].endswith("DELETE FROM v; END")
    assert statements[1] == "SELECT 2"


def test_split_statements_of_nothing() -> None:
    assert split_statements("  -- only a comment\n/* and another */ ; ") == []


def test_unterminated_strings_and_comments_do_not_hang() -> None:
    assert split_statements("SELECT 'open") == ["SELECT 'open"]
    assert split_statements("SELECT 1 /* open") == ["SELECT 1"]


@pytest.mark.parametrize(
    ("sql", "keyword"),
    [
        ("  begin", "BEGIN"),
        ("/* x */ -- y\n savepoint a", "SAVEPOINT"),
        ("SELECT 1", "SELECT"),
        ("'BEGIN'", ""),
        ("", ""),
    ],
)
def test_first_keyword(sql: str, keyword: str) -> None:
    assert first_keyword(sql) == keyword


def test_transaction_control() -> None:
    assert all(
        is_transaction_control(sql)
        for sql in ("BEGIN", "commit", "END TRANSACTION", "ROLLBACK TO a", "RELEASE a")
    )
    assert not is_transaction_control("SELECT 'BEGIN'")
    assert not is_transaction_control("CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END")


def test_strip_comments_keeps_strings() -> None:
    assert strip_comments("SELECT '--x' -- gone\n, 2 /* gone */") == "SELECT '--x'  , 2"


def test_inline_nulls_rewrites_only_real_parameters() -> None:
    sql, params = inline_nulls(
        "SELECT ?, '?', \"?\", [?], ? -- ?\n /* ? */ LIMIT?", [None, "a", None]
    )
    assert sql == "SELECT  NULL , '?', \"?\", [?], ?1 -- ?\n /* ? */ LIMIT NULL "
    assert params == ["a"]


def test_inline_nulls_handles_numbered_parameters() -> None:
    sql, params = inline_nulls("SELECT ?2, ?1, ?2", [None, "b"])
    assert (sql, params) == ("SELECT ?1,  NULL , ?1", ["b"])


def test_inline_nulls_without_nulls_changes_nothing() -> None:
    assert inline_nulls("SELECT ?", [1]) == ("SELECT ?", [1])


def test_inline_nulls_checks_the_count() -> None:
    with pytest.raises(ValueError, match="2 parameters but 1"):
        inline_nulls("SELECT ?, ?", [None])
    with pytest.raises(ValueError, match="named"):
        inline_nulls("SELECT @a", [None])


@given(st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=20))
def test_inline_nulls_keeps_every_value_in_order(values: list[object]) -> None:
    sql = "SELECT " + ", ".join("?" for _ in values) if values else "SELECT 1"
    rewritten, kept = inline_nulls(sql, values)
    assert kept == [v for v in values if v is not None]
    if None not in values:
        assert rewritten == sql
        return
    assert rewritten.count("NULL") == values.count(None)
    numbers = [int(tok[1:]) for tok in rewritten.replace(",", " ").split() if tok.startswith("?")]
    assert numbers == list(range(1, len(kept) + 1))


@given(st.lists(st.text(alphabet="ab;'\"-/* \n", max_size=12), max_size=6))
def test_split_statements_never_fails(parts: list[str]) -> None:
    statements = split_statements(";".join(parts))
    assert all(s == s.strip() and s for s in statements)


def test_insert_target_names_the_table_an_insert_writes() -> None:
    assert insert_target("INSERT INTO commits (v) VALUES (?)") == "commits"
    assert insert_target("  /* c */ insert or replace into t values (1)") == "t"
    assert insert_target('INSERT INTO "my view" (a) SELECT 1') == "my view"
    assert insert_target("REPLACE INTO [t] VALUES (1)") == "t"
    assert insert_target("INSERT INTO main.t VALUES (1)") is None  # schema-qualified
    assert insert_target("UPDATE t SET a = 1") is None
    assert insert_target("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x") is None
    assert insert_target("INSERT") is None


def test_param_spans_and_words_skip_strings_names_and_comments() -> None:
    sql = "UPDATE t SET a = ?, \"b?\" = '?' WHERE c = ?3 -- ? RETURNING"
    assert [sql[start:end] for start, end in param_spans(sql)] == ["?", "?3"]
    assert words(sql) == frozenset({"UPDATE", "T", "SET", "A", "WHERE", "C"})
    assert "RETURNING" in words("INSERT INTO t VALUES (1) returning *")
