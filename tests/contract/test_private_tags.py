"""The subscription owner's tag (token facts, possibly a patient's INS) stays out of the
search index, in clear or otherwise; other tags are indexed as before."""

from __future__ import annotations

from sqlalchemy import select

from gateway.access.context import AccessContext
from gateway.record.repository import Repository
from gateway.storage import schema as s
from gateway.sync.owner import OWNER_TAG, caller_facts, owner_tag


def test_the_owner_tag_is_not_indexed(repo: Repository) -> None:
    owner = AccessContext(
        kind="professional", client_id="lgc", subject="810000000017", patient="285037512345688"
    )
    basic = {
        "resourceType": "Basic",
        "id": "b1",
        "code": {"text": "x"},
        "meta": {"tag": [owner_tag(caller_facts(owner)), {"system": "urn:t", "code": "kept"}]},
    }
    rows = repo.services.indexer.rows(basic)
    tags = [(t.system, t.code) for t in rows.tokens if t.param == "_tag"]
    assert tags == [("urn:t", "kept")]
    with repo.writing() as w:
        w.update("Basic", "b1", basic)
    with repo.services.store.reader() as tx:
        systems = set(tx.conn.execute(select(s.idx_token.c.system)).scalars())
        codes = [c for c in tx.conn.execute(select(s.idx_token.c.code)).scalars() if c]
    assert OWNER_TAG not in systems and "urn:t" in systems
    assert not [c for c in codes if "285037512345688" in c or len(c) > 100]
