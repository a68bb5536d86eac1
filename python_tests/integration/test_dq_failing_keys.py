"""Keys of a failing dbt test's stored rows: only `_record_id` or `*_key` columns ever leave the
database, never an identifier token or a value, read as the auditor from what dbt's store_failures keeps in
dq_failures, where the auditor may select those columns and no other."""

from __future__ import annotations

import psycopg2
import pytest

from dq import history as hist
from warehouse.db.connection import connect
from warehouse.db.target import Target

pytestmark = pytest.mark.integration


@pytest.fixture
def failing_views(target: Target, test_database: str):
    # Created as the transformer, as dbt creates them; the database's DDL guard grants the auditor their key columns.
    conn = connect(target.role("transformer", test_database))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "create or replace view dq_failures.fail_with_record_id as "
            "select * from (values ('r2', 'tok-b', 'b'), ('r1', 'tok-a', 'a'), ('r1', 'tok-a', 'a')) "
            "as t (_record_id, patient_mrn_token, value_text)"
        )
        cur.execute(
            "create or replace view dq_failures.fail_with_key as "
            "select * from (values ('k1', 'tok'), (null, 'tok')) as t (patient_key, ssn_token)"
        )
        cur.execute(
            "create or replace view dq_failures.fail_without_keys as "
            "select * from (values ('tok', 'free text')) as t (patient_mrn_token, reason_text)"
        )
    yield
    with conn.cursor() as cur:
        cur.execute(
            "drop view dq_failures.fail_with_record_id, dq_failures.fail_with_key, dq_failures.fail_without_keys"
        )
    conn.close()


def test_only_lineage_and_surrogate_keys_are_sampled(target: Target, test_database: str, failing_views):
    conn = connect(target.role("auditor", test_database))
    try:
        assert hist.failing_row_keys(conn, f'"{test_database}"."dq_failures"."fail_with_record_id"') == ["r1", "r2"]
        assert hist.failing_row_keys(conn, f'"{test_database}"."dq_failures"."fail_with_key"') == ["k1"]
        assert hist.failing_row_keys(conn, f'"{test_database}"."dq_failures"."fail_without_keys"') == []
        # Only dbt's failure relations in dq_failures are read, whatever a history row claims.
        assert hist.failing_row_keys(conn, f'"{test_database}"."raw"."anything"') == []
        assert hist.failing_row_keys(conn, f'"{test_database}"."audit"."fail_with_record_id"') == []
    finally:
        conn.close()


def test_auditor_cannot_select_values_of_stored_failures(target: Target, test_database: str, failing_views):

    conn = connect(target.role("auditor", test_database))
    try:
        for query in (
            "select patient_mrn_token from dq_failures.fail_with_record_id",
            "select * from dq_failures.fail_with_key",
            "select reason_text from dq_failures.fail_without_keys",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
                cur.execute(query)
        with conn.cursor() as cur:
            cur.execute("select _record_id from dq_failures.fail_with_record_id order by 1")
            assert cur.fetchall() == [("r1",), ("r1",), ("r2",)]
    finally:
        conn.close()
