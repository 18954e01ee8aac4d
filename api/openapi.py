"""The OpenAPI document (/openapi.json), completed from the marshmallow schemas the API validates with.

flask-smorest and apispec turn each schema into JSON Schema. `DocumentPlugin` (apispec's marshmallow
plugin, extended) adds what they cannot see on their own, so that a client generated from the
document builds only requests the API takes and expects every answer it gets:

- Validators written as functions (api/fields.py) become keywords: storable text -> a no-NUL
  `pattern`, the task registry and the channel types (core/deliveries/channel_types.py) -> `enum`, IANA
  zones -> `format: iana-time-zone`, the recipients cap -> `maxItems`, the years the time engine
  handles -> a `pattern` on the year, JSON objects -> `propertyNames`.
- A request body whose schema requires `cadence` (create, preview) becomes one schema per cadence,
  each the body's own schema with the fields core.model.REQUIRED_BY_CADENCE names made required,
  joined by `oneOf` + `discriminator` on `cadence`. PATCH keeps the partial form, every field
  optional and without defaults, because what a change needs depends on the stored row.
- Status codes that every route of a kind can return: 400 (it takes input), 401 (it needs a token),
  404 (it has an id in its path), 413 (it takes a body), 503 (the database does not answer).
- `links` from an operation that answers a new id to every operation whose path takes exactly the
  ids it provides (create -> the item routes; run now -> the run's own route).
- operationIds: the view function's name unless the view names its operation (`@blp.doc`).

All of it runs as each route is registered, so a new route or field is covered without a word here.
JSON Schema cannot express what relates two fields or the clock: end_at after start_at, a `once`
start_at and an end_at in the future, a cron rule that ever fires, a JSON object at most 16 levels
deep. Those are said in descriptions; the API answers a 400 naming the field.
"""
from __future__ import annotations

import copy
import re

from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, missing, validate

from api.fields import MAX_JSON_DEPTH, channel_type, json_object, known_task, known_timezone, ledger_channel, \
    reasonable_year, recipients_limit, storable
from core.deliveries import channel_types
from core.model import CADENCES, REQUIRED_BY_CADENCE

NO_NUL = r"^[^\u0000]*$"
# fields.reasonable_year as a pattern: the year as written, 1900..9000.
YEAR_1900_TO_9000 = r"^(19[0-9]{2}|[2-8][0-9]{3}|9000)-"
TIME_ZONE_FORMAT = "iana-time-zone"
JSON_VALUE = "JsonValue"

# An operation that answers a new id -> the path parameters it provides, as runtime expressions.
# Every operation whose path takes exactly those parameters gets a link from its 2xx answer.
ID_PRODUCERS = {
    ("post", "/v1/schedules"): {"schedule_id": "$response.body#/id"},
    ("post", "/v1/schedules/{schedule_id}/run"): {"schedule_id": "$request.path.schedule_id",
                                                  "run_id": "$response.body#/id"},
    ("post", "/v1/email/suppressions"): {"email": "$response.body#/email"},
    ("post", "/v1/calendars"): {"calendar_id": "$response.body#/id"},
}

ERROR_REF = {"$ref": "#/components/schemas/Error"}
STANDARD_RESPONSES = {
    "400": {"description": "Invalid input: `fields` names each bad field and what is wrong with it",
            "content": {"application/json": {"schema": ERROR_REF}}},
    "401": {"description": "Missing, malformed, expired or foreign bearer token",
            "headers": {"WWW-Authenticate": {"description": 'Bearer realm="schedules"', "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": ERROR_REF}}},
    "404": {"description": "Not found in the caller's account (another account's is not found either)",
            "content": {"application/json": {"schema": ERROR_REF}}},
    "413": {"description": "The body is larger than MAX_REQUEST_BYTES",
            "content": {"application/json": {"schema": ERROR_REF}}},
    "503": {"description": "The database does not answer (or the service is not configured): try again",
            "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
            "content": {"application/json": {"schema": ERROR_REF}}},
}
_RESPONSE_NAMES = {"400": "BadRequest", "401": "Unauthorized", "404": "NotFound", "413": "PayloadTooLarge",
                   "503": "ServiceUnavailable"}


class DocumentPlugin(MarshmallowPlugin):
    def __init__(self, settings, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self._operations: dict[tuple[str, str], dict] = {}

    def init_spec(self, spec) -> None:
        super().init_spec(spec)
        self.converter.add_attribute_function(_validator_keywords(self.settings))
        for status, name in _RESPONSE_NAMES.items():
            spec.components.response(name, STANDARD_RESPONSES[status])
        spec.components.schema(JSON_VALUE, {
            "description": f"Any JSON value; strings and keys without NUL, nested at most {MAX_JSON_DEPTH} levels",
            # No `type` list of every JSON type: openapi-python-client cannot parse that union. Without
            # `type` each keyword applies to the values of its kind, which means the same.
            "pattern": NO_NUL, "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": f"#/components/schemas/{JSON_VALUE}"},
            "items": {"$ref": f"#/components/schemas/{JSON_VALUE}"},
        })

    def schema_helper(self, name, definition, schema=None, **kwargs):
        """A partial schema (PATCH) documents no defaults: there a missing field keeps its stored value,
        and a generated client would otherwise send the defaults and change the schedule."""
        result = super().schema_helper(name, definition, schema=schema, **kwargs)
        extra = getattr(schema, "OPENAPI_EXTRA", None)  # what fields alone cannot say (which go together)
        if result is not None and extra:
            result.update(extra)
        if result is not None and getattr(schema, "partial", False):
            for prop in result.get("properties", {}).values():
                prop.pop("default", None)
        return result

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in operations.values():
            self._split_by_cadence(operation.get("requestBody"))
        super().operation_helper(path=path, operations=operations, **kwargs)
        rule = kwargs.get("rule")
        for method, operation in operations.items():
            if rule is not None:
                operation.setdefault("operationId", _operation_id(rule, method, len(operations)))
            _add_standard_responses(path, operation)
            self._operations[(method, path)] = operation
        self._link_all()

    def _split_by_cadence(self, request_body) -> None:
        """A body that requires `cadence` -> oneOf its per-cadence forms, with a discriminator."""
        content = (request_body or {}).get("content", {}).get("application/json")
        schema = content and content.get("schema")
        if not isinstance(schema, Schema) or schema.partial:
            return
        cadence = schema.fields.get("cadence")
        if cadence is None or not cadence.required:
            return
        base = type(schema)
        name = self.converter.schema_name_resolver(base)
        mapping = {}
        for value, variant in cadence_variants(base).items():
            component = f"{name}{value.title()}"
            if component not in self.spec.components.schemas:
                self.spec.components.schema(component, schema=variant)
            mapping[value] = f"#/components/schemas/{component}"
        content["schema"] = {"oneOf": [{"$ref": ref} for ref in mapping.values()],
                             "discriminator": {"propertyName": "cadence", "mapping": mapping}}

    def _link_all(self) -> None:
        """Links from each id-producing operation's 2xx answer to the operations taking its ids."""
        for (method, path), provides in ID_PRODUCERS.items():
            producer = self._operations.get((method, path))
            if producer is None:
                continue
            answer = next((r for s, r in producer["responses"].items() if str(s).startswith("2")), None)
            if answer is None:
                continue
            for (c_method, c_path), consumer in self._operations.items():
                if (c_method, c_path) == (method, path) or set(_path_ids(c_path)) != set(provides):
                    continue
                answer.setdefault("links", {})[consumer["operationId"]] = {
                    "operationRef": f"#/paths/{_pointer(c_path)}/{c_method}",
                    "parameters": {name: provides[name] for name in _path_ids(c_path)},
                }


def cadence_variants(base: type[Schema]) -> dict[str, type[Schema]]:
    """One subclass of `base` per cadence: `cadence` fixed to it, the fields it needs required."""
    variants = {}
    for cadence in CADENCES:
        attrs = {"cadence": fields.String(required=True, validate=validate.OneOf([cadence]))}
        for name in REQUIRED_BY_CADENCE[cadence]:
            field = copy.copy(base._declared_fields[name])
            field.required, field.allow_none, field.load_default = True, False, missing
            field.metadata = {**field.metadata, **getattr(base, "WHEN_REQUIRED", {}).get(name, {})}
            attrs[name] = field
        variants[cadence] = type(f"{cadence.title()}{base.__name__}", (base,), attrs)
    return variants


def _validator_keywords(settings):
    """An apispec attribute function: the keywords that api/fields.py's validator functions enforce."""

    def validator_keywords(self, field, ret, **kwargs) -> dict:
        validators = getattr(field, "validators", ())
        keywords = {}
        # `storable` also refuses lone UTF-16 surrogates ("\ud800"), which no pattern can name: JSON Schema
        # sees code points. Only NUL is stated; a field's own pattern already excludes it.
        if storable in validators and "pattern" not in field.metadata:
            keywords["pattern"] = NO_NUL
        if known_task in validators:
            keywords["enum"] = sorted(settings.tasks)
        if channel_type in validators:
            keywords["enum"] = list(channel_types.names())
        if ledger_channel in validators:
            keywords["enum"] = ["email", *channel_types.names()]
        if known_timezone in validators:
            keywords.update(format=TIME_ZONE_FORMAT, example="America/New_York",
                            description="an IANA time zone name (tz database), e.g. America/New_York or UTC")
        if recipients_limit in validators:
            keywords["maxItems"] = settings.max_recipients
        if reasonable_year in validators:
            keywords["pattern"] = YEAR_1900_TO_9000
        if json_object in validators:
            keywords.update(propertyNames={"pattern": NO_NUL},
                            additionalProperties={"$ref": f"#/components/schemas/{JSON_VALUE}"})
        return keywords

    return validator_keywords


def _add_standard_responses(path: str, operation: dict) -> None:
    responses = operation.setdefault("responses", {})
    takes_input = "requestBody" in operation or any(p.get("in") != "path" for p in operation.get("parameters", []))
    wanted = {
        "400": takes_input,
        "401": operation.get("security") != [],
        "404": bool(_path_ids(path)),
        "413": "requestBody" in operation,
        "503": path.startswith("/v1/"),
    }
    present = {str(status) for status in responses}  # flask-smorest's keys are ints until apispec cleans them
    for status, needed in wanted.items():
        if needed and status not in present:
            responses[status] = {"$ref": f"#/components/responses/{_RESPONSE_NAMES[status]}"}


def _operation_id(rule, method: str, methods: int) -> str:
    name = rule.endpoint.rsplit(".", 1)[-1]
    if methods > 1 or name[:1].isupper():  # a MethodView class: one endpoint, several methods
        name = f"{method}_{re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()}"
    return name


def _path_ids(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")
