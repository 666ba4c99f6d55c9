"""A custom resource checked against its CRD's `openAPIV3Schema` as the API server checks it, with Draft 7 JSON Schema.

The API server silently prunes fields a structural schema does not declare, so a misspelt field is a setting that
quietly never takes effect. Here every declared object is closed (`additionalProperties: false`), as strict field
validation (`kubectl apply --validate=strict`) closes it, and such a field is an error.

Not checked: CEL rules (`x-kubernetes-validations`), list-type set/map uniqueness, ObjectMeta rules (name syntax,
label values) and formats other than ipv4, ipv6, date-time and byte. Tests check the CEL rules the program depends
on separately.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CRD_FILES = (*sorted((FIXTURES / "crds").glob("*.yaml")), *sorted((FIXTURES / "sveltos").glob("*.crd.yaml")))

Schema = dict[str, Any]

_EXTENSION = "x-kubernetes-"
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_LEADING_FLAGS = re.compile(r"^\^\(\?([ims]+)\)")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml reads the 0.5 MB of CRDs several times faster


def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value.upper()


# jsonschema's own date-time check needs a package that is not installed: checked here instead, a little looser
# than RFC 3339 (an offset is not required).
FORMATS = jsonschema.FormatChecker(formats=("ipv4", "ipv6"))
FORMATS.checks("byte")(_is_base64)
FORMATS.checks("date-time")(_is_date_time)


def go_pattern(pattern: str) -> str:
    """The RE2 pattern in Python's syntax; a pattern Python still cannot compile raises (a new CRD needs a look).

    RE2 takes inline flags anywhere (PrometheusRule's `^(?i)(abort|warn)?$`); Python wants them first.
    """
    moved = _LEADING_FLAGS.sub(r"(?\1)^", pattern)
    re.compile(moved)
    return moved


def _with_null(types: object) -> list[Any]:
    return [*(types if isinstance(types, list) else [types]), "null"]


def to_draft7(node: Mapping[str, Any], *, structural: bool = True) -> Schema:
    """One node of a Kubernetes structural schema as Draft 7 JSON Schema.

    `structural` is False below allOf/anyOf/oneOf/not: there the schema only constrains values, the fields an
    object may have come from the structural part beside it (the API server requires them to be declared there).
    """
    out: Schema = {}
    for key, value in node.items():
        if key.startswith(_EXTENSION) or key == "nullable":
            continue  # the three extensions that matter are applied below; CEL rules are not checked
        if key == "properties":
            out[key] = {name: to_draft7(sub, structural=structural) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = to_draft7(value, structural=structural)
        elif key in _JUNCTORS:
            out[key] = [to_draft7(sub, structural=False) for sub in value]
        elif key == "not":
            out[key] = to_draft7(value, structural=False)
        elif key == "pattern":
            out[key] = go_pattern(value)
        else:
            out[key] = copy.deepcopy(value)
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("x-kubernetes-embedded-resource"):
        # An embedded object is a whole Kubernetes object: its type and ObjectMeta are always allowed.
        properties = out.setdefault("properties", {})
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties["metadata"] = {"type": "object"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = _with_null(out["type"])
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    is_object = node.get("type") == "object" or "properties" in out
    open_object = "additionalProperties" in out or node.get("x-kubernetes-preserve-unknown-fields")
    if structural and is_object and not open_object:
        out["additionalProperties"] = False  # what the API server would prune is an error here
    return out


def _child_schema(schema: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    sub = schema.get("properties", {}).get(key, schema.get("additionalProperties"))
    return sub if isinstance(sub, Mapping) else None


def defaulted(schema: Mapping[str, Any] | None, value: Any) -> Any:
    """`value` as the API server stores it: nulls in non-nullable fields dropped, then `default`s filled in.

    The API server does this before it validates, and some schemas only hold once defaulted (a oneOf over a field
    with a default). Defaults are filled in recursively, into filled-in defaults too, as the API server does.
    """
    if schema is None:
        return copy.deepcopy(value)
    if isinstance(value, Mapping):
        kept = {
            key: item
            for key, item in value.items()
            if item is not None or (sub := _child_schema(schema, key)) is None or sub.get("nullable")
        }
        for key, sub in schema.get("properties", {}).items():
            if key not in kept and "default" in sub:
                kept[key] = sub["default"]
        return {key: defaulted(_child_schema(schema, key), item) for key, item in kept.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [defaulted(items if isinstance(items, Mapping) else None, item) for item in value]
    return copy.deepcopy(value)


@dataclass(frozen=True)
class CrdVersion:
    name: str
    served: bool
    schema: Mapping[str, Any]
    """The Kubernetes `openAPIV3Schema`, as written (defaulting reads it)."""
    validator: jsonschema.Draft7Validator


@dataclass(frozen=True)
class Crd:
    name: str
    """`<plural>.<group>`."""
    group: str
    kind: str
    namespaced: bool
    versions: Mapping[str, CrdVersion]

    @property
    def served(self) -> tuple[str, ...]:
        """The apiVersions the API server accepts for this kind."""
        return tuple(f"{self.group}/{v.name}" for v in self.versions.values() if v.served)


def root_schema(schema: Mapping[str, Any], group: str, version: str, kind: str) -> Schema:
    """The object's schema: exactly this apiVersion and kind; metadata left to the API server's ObjectMeta checks."""
    out = to_draft7(schema)
    properties = out.setdefault("properties", {})
    properties["apiVersion"] = {"const": f"{group}/{version}"}
    properties["kind"] = {"const": kind}
    properties["metadata"] = {"type": "object"}
    out["required"] = sorted({*out.get("required", ()), "apiVersion", "kind"})
    return out


def crd_from(document: Mapping[str, Any]) -> Crd:
    spec = document["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    versions = {}
    for version in spec["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        converted = root_schema(schema, group, version["name"], kind)
        jsonschema.Draft7Validator.check_schema(converted)
        versions[version["name"]] = CrdVersion(
            version["name"],
            bool(version.get("served")),
            schema,
            jsonschema.Draft7Validator(converted, format_checker=FORMATS),
        )
    return Crd(document["metadata"]["name"], group, kind, spec["scope"] == "Namespaced", versions)


def load(path: Path) -> Crd:
    documents = [d for d in yaml.load_all(path.read_text(), Loader=_LOADER) if d]
    if len(documents) != 1 or documents[0].get("kind") != "CustomResourceDefinition":
        raise ValueError(f"{path}: expected exactly one CustomResourceDefinition")
    return crd_from(documents[0])


def catalog(paths: Iterable[Path] = CRD_FILES) -> dict[tuple[str, str], Crd]:
    """(group, kind) -> its CRD."""
    crds = [load(path) for path in paths]
    return {(crd.group, crd.kind): crd for crd in crds}


def problems(crd: Crd, obj: Mapping[str, Any]) -> list[str]:
    """Why the API server (strict field validation, CEL aside) would refuse `obj`; empty when it accepts it."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, name = api_version.rpartition("/")
    version = crd.versions.get(name)
    if group != crd.group or version is None:
        return [f"apiVersion: {api_version!r} is no version of {crd.name} (served: {', '.join(crd.served)})"]
    if not version.served:
        return [f"apiVersion: {crd.name} does not serve {name} (served: {', '.join(crd.served)})"]
    errors = version.validator.iter_errors(defaulted(version.schema, obj))
    located = sorted(([str(p) for p in e.absolute_path], e.message) for e in errors)
    return [f"{'.'.join(path) or '<root>'}: {message}" for path, message in located]
