"""Criteria that follow references: chains, ``_has``, ``_list`` and compartments.

- chain ``subject:Patient.name=x`` (https://hl7.org/fhir/R4/search.html#chaining):
  a ``subject`` reference to a current Patient whose ``name`` matches;
- reverse chain ``_has:Observation:patient:code=x`` (#has): some Observation whose
  ``patient`` references the resource and whose ``code`` matches;
- ``_list=42`` (#list): the resource is an item (``List.entry.item``) of List 42;
- compartment ``Patient/7/Observation`` (https://hl7.org/fhir/R4/compartmentdefinition.html):
  one of the CompartmentDefinition's parameters references Patient 7 (and Patient 7
  itself is in its own compartment); without an id, any Patient's compartment.

Only local references count (see :mod:`gateway.record.indexing`): the joins go through
``target_type``/``target_id``, which foreign URLs do not have.
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    exists,
    false,
    or_,
    select,
    tuple_,
    union_all,
)

from gateway.search.query import ChainClause, CompartmentConstraint, HasClause, ListClause
from gateway.storage import schema as s
from gateway.storage.search.clauses import clause_predicate
from gateway.storage.search.scope import SqlContext, Subject, type_condition


def chain_predicate(
    subject: Subject, chain: ChainClause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    if driver:
        return subject.pk.in_(_chain_sources(subject, chain, ctx))
    ref = s.idx_reference.alias("chain_ref")
    target = s.resource.alias("chain_target")
    joined = ref.join(
        target,
        and_(target.c.resource_type == ref.c.target_type, target.c.id == ref.c.target_id),
    )
    options = [
        and_(
            ref.c.target_type == t.target_type,
            clause_predicate(
                Subject(target.c.pk, (t.target_type,), target), t.clause, ctx, driver=False
            ),
        )
        for t in chain.targets
    ]
    conds = [ref.c.resource_pk == subject.pk, ref.c.param == chain.param]
    conds += [target.c.deleted.is_(False), _any(options)]
    return exists(select(ref.c.resource_pk).select_from(joined).where(*conds))


def _chain_sources(subject: Subject, chain: ChainClause, ctx: SqlContext) -> Select[tuple[int]]:
    """Primary keys of the resources whose reference leads to a matching target, found
    from the targets: matching targets first, then the references to them (by id)."""
    parts: list[Select[tuple[int]]] = []
    for t in chain.targets:
        ref = s.idx_reference.alias(f"chain_ref_{len(parts)}")
        target = s.resource.alias(f"chain_target_{len(parts)}")
        inner = Subject(target.c.pk, (t.target_type,), target)
        matching = select(target.c.id).where(
            target.c.resource_type == t.target_type,
            target.c.deleted.is_(False),
            clause_predicate(inner, t.clause, ctx, driver=True),
        )
        parts.append(
            select(ref.c.resource_pk).where(
                *type_condition(ref, subject.types),
                ref.c.param == chain.param,
                ref.c.target_type == t.target_type,
                ref.c.target_id.in_(matching),
            )
        )
    return parts[0] if len(parts) == 1 else union_all(*parts)  # type: ignore[return-value]


def has_predicate(
    subject: Subject, has: HasClause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    ref = s.idx_reference.alias("has_ref")
    source = Subject(ref.c.resource_pk, (has.source_type,))
    conds = [
        ref.c.resource_type == has.source_type,
        ref.c.param == has.reference_param,
        clause_predicate(source, has.clause, ctx, driver=driver),
    ]
    return _row_is_target(subject, ref, conds, driver=driver)


def list_predicate(subject: Subject, clause: ListClause, *, driver: bool) -> ColumnElement[bool]:
    ref = s.idx_reference.alias("list_ref")
    lists = s.resource.alias("list")
    conds = [
        ref.c.resource_type == "List",
        ref.c.param == "item",
        ref.c.resource_pk.in_(
            select(lists.c.pk).where(
                lists.c.resource_type == "List",
                lists.c.id.in_(clause.list_ids),
                lists.c.deleted.is_(False),
            )
        ),
    ]
    return _row_is_target(subject, ref, conds, driver=driver)


def _row_is_target(
    subject: Subject, ref: FromClause, conds: list[ColumnElement[bool]], *, driver: bool
) -> ColumnElement[bool]:
    """The subject's resource is the target of some ``ref`` row meeting ``conds``."""
    row = subject.row
    if row is None:  # pragma: no cover - only the searched resources are targets
        raise ValueError("reverse links need the resource row")
    if not driver:
        return exists().where(
            ref.c.target_type == row.c.resource_type, ref.c.target_id == row.c.id, *conds
        )
    if len(subject.types) == 1:
        rtype = subject.types[0]
        sub = select(ref.c.target_id).where(ref.c.target_type == rtype, *conds)
        return and_(row.c.resource_type == rtype, row.c.id.in_(sub))
    pairs = select(ref.c.target_type, ref.c.target_id).where(
        ref.c.target_id.is_not(None), *type_condition_on_target(ref, subject.types), *conds
    )
    return tuple_(row.c.resource_type, row.c.id).in_(pairs)


def type_condition_on_target(ref: FromClause, types: tuple[str, ...]) -> list[ColumnElement[bool]]:
    return [ref.c.target_type.in_(types)] if types else []


def compartment_members(
    compartment: CompartmentConstraint, types: tuple[str, ...]
) -> Select[tuple[int]] | None:
    """The primary keys of the compartment's members among ``types`` (None: no member type)."""
    ref = s.idx_reference.alias("member_ref")
    by_params: dict[tuple[str, ...], list[str]] = {}
    for rtype in types:
        params = compartment.params.get(rtype, ())
        if params:
            by_params.setdefault(params, []).append(rtype)
    options = [
        and_(
            ref.c.resource_type == ts[0] if len(ts) == 1 else ref.c.resource_type.in_(ts),
            ref.c.param == params[0] if len(params) == 1 else ref.c.param.in_(params),
        )
        for params, ts in by_params.items()
    ]
    parts: list[Select[tuple[int]]] = []
    if options:
        target = [ref.c.target_type == compartment.compartment]
        if compartment.id is not None:
            target.append(ref.c.target_id == compartment.id)
        parts.append(select(ref.c.resource_pk).where(*target, _any(options)))
    if compartment.compartment in types:
        own = s.resource.alias("member_self")
        cond = [own.c.resource_type == compartment.compartment]
        if compartment.id is not None:
            cond.append(own.c.id == compartment.id)
        parts.append(select(own.c.pk).where(*cond))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return union_all(*parts)  # type: ignore[return-value]


def compartment_predicate(
    subject: Subject, compartment: CompartmentConstraint
) -> ColumnElement[bool]:
    members = compartment_members(compartment, subject.types)
    if members is None:
        return false()
    return subject.pk.in_(members)


def _any(options: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    if not options:
        return false()
    return options[0] if len(options) == 1 else or_(*options)
