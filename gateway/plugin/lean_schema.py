"""`LeanSchema`: a marshmallow Schema whose load and dump of one plain object skip marshmallow's per-field
scaffolding on hot paths (create_order's body and answer, a provider's wire messages), with the same
results.

marshmallow stays the source of truth: the plan is read from the schema's own fields, each value still
goes through its field's `deserialize` / `_serialize` (so its validators and formats), and the hooks
(`@validates`, `pre_load`, `post_dump` ...) run as marshmallow runs them, since only `_deserialize` and
`_serialize` are replaced. What the plan does not cover (a nested path, a custom accessor, `partial`,
`unknown=INCLUDE`, a key it does not know under RAISE, any value a field refuses) goes to marshmallow's
own code, so every error (its message, the field at fault) is marshmallow's, byte for byte.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, missing

# (attribute name, key in the data, key in the result, field, whether it is a plain fields.String)
_Plan = tuple[tuple[str, str, str, fields.Field[Any], bool], ...]
_NO_PLAN: _Plan = ()


class LeanSchema(Schema):
    """A Schema to subclass instead of `marshmallow.Schema` where a load or dump is on a hot path."""

    _lean_plans: dict[tuple[str, tuple[str, ...]], _Plan | None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._lean_plans = {}  # per class: `only` and `exclude` give an instance other fields

    def _lean_plan(self, kind: str, declared: dict[str, fields.Field[Any]]) -> _Plan | None:
        key = (kind, tuple(declared))
        try:
            return self._lean_plans[key]
        except KeyError:
            pass
        plan = _plan_of(self, declared, dump=kind == "dump")
        # Bounded: one entry per field selection of this class (`only`/`exclude` are written in code).
        if len(self._lean_plans) < 64:
            self._lean_plans[key] = plan
        return plan

    def _deserialize(
        self,
        data: Any,
        *,
        error_store: Any,
        many: bool = False,
        partial: Any = None,
        unknown: Any = RAISE,
        index: Any = None,
    ) -> Any:
        if not many and not partial and unknown in (RAISE, EXCLUDE) and type(data) is dict:
            plan = self._lean_plan("load", self.load_fields)
            if plan is not None and (unknown == EXCLUDE or _only_known_keys(data, plan)):
                loaded = _load(plan, data, partial)
                if loaded is not None:
                    return loaded
        return super()._deserialize(
            data, error_store=error_store, many=many, partial=partial, unknown=unknown, index=index
        )

    def _serialize(self, obj: Any, *, many: bool = False) -> Any:
        if not many and not hasattr(obj, "__getitem__"):  # an object: marshmallow reads its attributes
            plan = self._lean_plan("dump", self.dump_fields)
            if plan is not None:
                return _dump(plan, obj)
        elif not many and type(obj) is dict:  # a dict: marshmallow reads its keys, then its attributes
            plan = self._lean_plan("dump", self.dump_fields)
            if plan is not None:
                return _dump_dict(plan, obj)
        return super()._serialize(obj, many=many)


def _plan_of(schema: Schema, declared: dict[str, fields.Field[Any]], *, dump: bool) -> _Plan | None:
    """None when marshmallow's own code must run: an accessor or field that reads values its own way,
    a dotted name, a result class other than dict."""
    if schema.dict_class is not dict or type(schema).get_attribute is not Schema.get_attribute:
        return None
    plan = []
    for name, field in declared.items():
        data_key = field.data_key if field.data_key is not None else name
        attribute = field.attribute or name
        if "." in attribute or "." in data_key:
            return None
        if dump and (not field._CHECK_ATTRIBUTE or type(field).get_value is not fields.Field.get_value):
            return None
        plain_text = type(field) is fields.String and not field.pre_load and not field.post_load
        plan.append((name, data_key, attribute, field, plain_text))
    return tuple(plan) if plan else _NO_PLAN


def _only_known_keys(data: dict[str, Any], plan: _Plan) -> bool:
    if len(data) > len(plan):
        return False
    known = {data_key for _, data_key, _, _, _ in plan}
    return all(key in known for key in data)


def _load(plan: _Plan, data: dict[str, Any], partial: Any) -> dict[str, Any] | None:
    """Schema._deserialize for a dict of known keys, or None if any field refuses its value (marshmallow
    then loads it again, recording the errors as it always does)."""
    extra = {} if partial is None else {"partial": partial}
    loaded: dict[str, Any] = {}
    try:
        for _name, data_key, attribute, field, plain_text in plan:
            value = data.get(data_key, missing)
            if plain_text and type(value) is str:  # what fields.String.deserialize does with text
                field._validate(value)
            else:
                value = field.deserialize(value, data_key, data, **extra)
            if value is not missing:
                loaded[attribute] = value
    except ValidationError:
        return None
    return loaded


def _dump(plan: _Plan, obj: Any) -> dict[str, Any]:
    dumped = {}
    for name, data_key, attribute, field, _ in plan:
        value = getattr(obj, attribute, missing)
        if value is missing:
            default = field.dump_default
            value = default() if callable(default) else default
            if value is missing:
                continue
        dumped[data_key] = field._serialize(value, name, obj)
    return dumped


def _dump_dict(plan: _Plan, obj: dict[str, Any]) -> dict[str, Any]:
    dumped = {}
    for name, data_key, attribute, field, _ in plan:
        value = obj[attribute] if attribute in obj else getattr(obj, attribute, missing)
        if value is missing:
            default = field.dump_default
            value = default() if callable(default) else default
            if value is missing:
                continue
        dumped[data_key] = field._serialize(value, name, obj)
    return dumped
